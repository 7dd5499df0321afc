"""The `deploy:` section of params.yaml: the gates a new version must pass and the targets' knobs.
Every field has a default, so a params file without the section deploys with sane gates."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from greenlight.settings_base import Strict, check

_Strict = Strict


class SmokeSettings(_Strict):
    # the known answers' tolerance is the service's own: serving.known_answer_tolerance
    latency_budget_ms: float = Field(250.0, gt=0)  # p95 of single-record requests
    latency_requests: int = Field(20, ge=1)


class ShadowSettings(_Strict):
    seconds: float = Field(0.0, ge=0)  # 0: no shadow step
    min_agreement: float | None = Field(None, ge=0, le=1)  # None: report the rate, never block
    max_records: int = Field(500, ge=1)


class WatchSettings(_Strict):
    window_s: float = Field(60.0, ge=0)  # how long the old color stays up, ready to take back
    interval_s: float = Field(1.0, gt=0)
    error_window_s: float = Field(3.0, gt=0)  # the error rate is taken over this recent span
    max_error_rate: float = Field(0.05, ge=0, le=1)
    min_requests: int = Field(10, ge=1)  # fewer requests than this in the span: no verdict
    max_latency_ms: float = Field(1000.0, gt=0)  # median of the last 3 canary requests
    max_canary_failures: int = Field(2, ge=1)  # consecutive failed canary requests


class SplitSettings(_Strict):
    """An A/B split (`greenlight deploy --split N`): the candidate takes `percent` of live traffic
    beside the live version until `greenlight deploy decide` promotes it or rolls it back."""

    percent: int | None = Field(None, gt=0, lt=100)  # None: a plain blue/green switch
    metric: Literal["accuracy", "positive_outcome"] = "accuracy"  # the share the z-test compares
    min_samples: int = Field(200, ge=1)  # labelled predictions per variant before any verdict
    alpha: float = Field(0.05, gt=0, lt=1)  # two-sided significance of the two-proportion z-test
    max_fairness_regression: float = Field(0.05, ge=0, le=1)  # candidate's gap minus live's
    min_group_count: int = Field(30, ge=1)  # smaller groups are left out of the fairness gaps
    max_duration_s: float | None = Field(None, gt=0)  # no verdict by then: promote; None: never


class LocalSettings(_Strict):
    proxy_port: int = Field(8080, ge=1, le=65535)
    # HAProxy's Prometheus exporter (/metrics) and stats page (/stats), on 127.0.0.1; None: off
    metrics_port: int | None = Field(8404, ge=1, le=65535)
    state_dir: Path = Path(".deploy/local")
    keep_releases: int = Field(5, ge=2)
    stop_grace_s: float = Field(15.0, gt=0)
    # The command that serves one color; {python} {bundle} {port} {prediction_log} are filled in.
    serve_command: tuple[str, ...] = (
        "{python}",
        "-m",
        "greenlight",
        "serve",
        "--bundle",
        "{bundle}",
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
        "--prediction-log",
        "{prediction_log}",
    )

    def serve_line(self, **values: str) -> list[str]:
        """`serve_command` with its placeholders filled in from `values`."""
        return [part.format(**values) for part in self.serve_command]


class DockerSettings(_Strict):
    """`--target docker`: two containers of the image on one host, behind HAProxy on the host."""

    proxy_port: int = Field(8081, ge=1, le=65535)
    state_dir: Path = Path(".deploy/docker")
    name_prefix: str = Field("greenlight", pattern=r"^[a-z][a-z0-9-]{0,40}$")  # <prefix>-<color>
    log_dir: str = "/var/log/greenlight"  # the prediction-log volume, inside the container
    bundle_dir: str = "/app/models/bundle"  # the model bundle in the image (a split's labels)
    user: str | None = None  # None: the image's USER (refused when it is root or unset)
    healthy_checks: int = Field(3, ge=2)  # consecutive good /readyz before the color is available
    drain_s: float = Field(10.0, ge=0)  # in-flight requests on the old color get this long
    stop_grace_s: float = Field(10.0, ge=1)  # then `docker stop --time`: SIGTERM, later SIGKILL
    command_timeout_s: float = Field(300.0, gt=0)  # one docker CLI call (a pull can be slow)
    # The service's environment ({port} {log_dir} filled in): the serving image's own variables,
    # so it listens on 127.0.0.1 of the host at the color's port and logs to the volume.
    env: dict[str, str] = Field(
        default_factory=lambda: {
            "BENTOML_HOST": "127.0.0.1",
            "BENTOML_PORT": "{port}",
            "GREENLIGHT_PREDICTION_LOG": "{log_dir}/predictions.jsonl",
        }
    )
    args: tuple[str, ...] = ()  # after the image: empty runs the image's own CMD


class KubernetesSettings(_Strict):
    namespace: str = "greenlight"
    app: str = "greenlight"  # Deployments {app}-blue/-green, Services {app} and {app}-<color>
    container: str = "service"  # the container whose image a release sets
    replicas: int = Field(2, ge=1)
    container_port: int = Field(3000, ge=1, le=65535)
    request_timeout_s: float = Field(10.0, gt=0)
    service_port: int = Field(3000, ge=1, le=65535)  # the color Services' port (the route's)
    # the Gateway API HTTPRoute whose weights split traffic (deploy/k8s/httproute.yaml)
    route: str = Field("greenlight", pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=253)


class DeploySettings(_Strict):
    readiness_deadline_s: float = Field(120.0, gt=0)
    refusal_grace_s: float = Field(5.0, ge=0)  # up, but /predict answers 503 this long: failed
    audit_log: Path = Path(".deploy/audit.jsonl")
    smoke: SmokeSettings = SmokeSettings()
    shadow: ShadowSettings = ShadowSettings()
    watch: WatchSettings = WatchSettings()
    split: SplitSettings = SplitSettings()
    local: LocalSettings = LocalSettings()
    kubernetes: KubernetesSettings = KubernetesSettings()
    docker: DockerSettings = DockerSettings()


def parse_settings(raw: object, source: str = "deploy") -> DeploySettings:
    """Check the section; each problem names its dotted key, e.g. `deploy.watch.window_s`."""
    return check(DeploySettings, raw, source, "deploy")
