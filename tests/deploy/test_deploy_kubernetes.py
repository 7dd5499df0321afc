"""The kubernetes target against a fake API server (no cluster here): what it patches, when it
switches, what it reads back, and whole rollouts through the controller."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from deploy_fake_cluster import FakeCluster
from deploy_fakes import PROBABILITIES, RECORDS, FakeClock, FakeService

from greenlight.deploy.audit import read_entries
from greenlight.deploy.controller import Candidate, Controller, DeployError
from greenlight.deploy.ending import Ending, ManualDecision
from greenlight.deploy.settings import DeploySettings, KubernetesSettings, WatchSettings
from greenlight.deploy.smoke import KnownAnswer
from greenlight.deploy.targets.base import Release
from greenlight.deploy.targets.kubernetes import (
    SOURCE,
    SPLIT_CANDIDATE,
    SPLIT_PERCENT,
    VERSION,
    KubernetesError,
    KubernetesTarget,
    SplitRefused,
)

IMAGE = "ghcr.io/acme/greenlight@sha256:" + "a" * 64
ANSWERS = [KnownAnswer(r, p) for r, p in zip(RECORDS, PROBABILITIES, strict=True)]


def target_for(cluster: FakeCluster) -> KubernetesTarget:
    return KubernetesTarget(KubernetesSettings(), cluster.connect)


def healthy(color: str, version: str) -> FakeService:
    return FakeService(version)


def rollout(cluster: FakeCluster, version: str, tmp_path: Path) -> str:
    settings = DeploySettings(
        readiness_deadline_s=10, audit_log=tmp_path / "audit.jsonl",
        watch=WatchSettings(window_s=5, interval_s=1, min_requests=5),
    )  # fmt: skip
    clock = FakeClock()
    controller = Controller(target_for(cluster), settings, None, clock, clock.sleep)
    candidate = Candidate(Release(version, f"{IMAGE[:-1]}{version[-1]}"), ANSWERS)
    return controller.deploy(candidate).decision


def test_a_fresh_cluster_has_no_live_color() -> None:
    state = target_for(FakeCluster()).state()
    assert state.live is None and state.idle == "blue"
    assert not any(slot.running or slot.release for slot in state.slots.values())


def test_start_patches_image_replicas_and_release_annotations() -> None:
    cluster = FakeCluster()
    target_for(cluster).start("green", Release("v2", IMAGE))
    path, method, body = cluster.patches[-1]
    assert (path.rsplit("/", 1)[-1], method) == ("greenlight-green", "PATCH")
    assert body["spec"]["replicas"] == 2
    assert body["spec"]["template"]["spec"]["containers"] == [{"name": "service", "image": IMAGE}]
    assert cluster.annotations("green") == {VERSION: "v2", SOURCE: IMAGE}
    assert cluster.image("green") == IMAGE


def test_switch_waits_for_a_fully_available_deployment() -> None:
    cluster = FakeCluster(polls_until_available=3, service_factory=healthy)
    target = target_for(cluster)
    target.start("green", Release("v2", IMAGE))
    with pytest.raises(KubernetesError, match="not available"):
        target.switch("green")
    assert cluster.selector["color"] == "blue"
    while not target.available("green"):
        pass  # each poll moves the fake rollout on
    target.switch("green")
    assert cluster.selector == {"app": "greenlight", "color": "green"}


def test_stop_scales_to_zero_and_keeps_the_release_it_is_given() -> None:
    cluster = FakeCluster()
    target = target_for(cluster)
    target.start("green", Release("v2", IMAGE))
    target.stop("green", Release("v1", "ghcr.io/acme/greenlight@sha256:old"))
    assert cluster.deployments["green"]["spec"]["replicas"] == 0
    assert cluster.image("green") == "ghcr.io/acme/greenlight@sha256:old"
    assert cluster.annotations("green")[VERSION] == "v1"
    target.stop("green", None)
    assert cluster.annotations("green") == {}


def test_failure_names_a_crash_looping_pod() -> None:
    cluster = FakeCluster(waiting_reason={"green": "ImagePullBackOff"})
    target = target_for(cluster)
    target.start("green", Release("v2", IMAGE))
    assert target.failure("green") == "pod greenlight-green-0: ImagePullBackOff"
    assert target.failure("blue") is None


def test_traffic_sums_the_predict_counters_of_the_color_pods() -> None:
    cluster = FakeCluster(service_factory=healthy)
    target = target_for(cluster)
    target.start("green", Release("v2", IMAGE))
    cluster.services["green"].requests, cluster.services["green"].errors = 40, 3
    traffic = target.traffic("green")
    assert (traffic.requests, traffic.errors) == (40, 3)  # /readyz calls are not counted


def test_an_api_error_names_the_request_and_the_server_message() -> None:
    def forbidden(request: httpx.Request) -> httpx.Response:
        return httpx.Response(403, json={"message": 'deployments "greenlight-blue" is forbidden'})

    def connect(base: str) -> httpx.Client:
        return httpx.Client(base_url="https://kube.test", transport=httpx.MockTransport(forbidden))

    with pytest.raises(KubernetesError, match=r"GET .*greenlight-blue: 403 .*forbidden"):
        KubernetesTarget(KubernetesSettings(), connect).state()


def test_rollouts_switch_the_service_selector_and_park_the_old_color(tmp_path: Path) -> None:
    cluster = FakeCluster(service_factory=healthy)
    assert rollout(cluster, "v1", tmp_path) == "deployed"
    assert cluster.selector["color"] == "blue"
    assert rollout(cluster, "v2", tmp_path) == "deployed"
    assert cluster.selector["color"] == "green"
    assert cluster.deployments["blue"]["spec"]["replicas"] == 0
    assert cluster.annotations("blue")[VERSION] == "v1"  # what a rollback brings back
    state = target_for(cluster).state()
    assert state.live == "green" and state.release("green").version == "v2"


def test_a_version_failing_its_known_answers_never_gets_the_selector(tmp_path: Path) -> None:
    cluster = FakeCluster(service_factory=healthy)
    rollout(cluster, "v1", tmp_path)
    cluster.service_factory = lambda color, version: FakeService(version, skew=0.2)
    assert rollout(cluster, "v2", tmp_path) == "rejected"
    assert cluster.selector["color"] == "blue"
    assert cluster.deployments["green"]["spec"]["replicas"] == 0
    assert VERSION not in cluster.annotations("green")
    steps = {entry.step: entry.result for entry in read_entries(tmp_path / "audit.jsonl")[-8:]}
    assert steps["smoke:known_answers"] == "failed"


def test_a_stuck_rollout_is_rejected_with_the_pod_reason(tmp_path: Path) -> None:
    cluster = FakeCluster(service_factory=healthy)
    rollout(cluster, "v1", tmp_path)
    cluster.waiting_reason["green"] = "CrashLoopBackOff"
    assert rollout(cluster, "v2", tmp_path) == "rejected"
    ready = [entry for entry in read_entries(tmp_path / "audit.jsonl") if entry.step == "ready"][-1]
    assert "CrashLoopBackOff" in ready.reason


def test_a_breach_after_the_switch_puts_the_selector_back(tmp_path: Path) -> None:
    cluster = FakeCluster(service_factory=healthy)
    rollout(cluster, "v1", tmp_path)
    original = cluster._router_service

    def switch_then_fail(method: str, request: httpx.Request) -> httpx.Response:
        response = original(method, request)
        if method == "PATCH" and cluster.selector["color"] == "green":
            cluster.services["green"].predict_status = 500
        return response

    cluster._router_service = switch_then_fail
    assert rollout(cluster, "v2", tmp_path) == "rolled_back"
    assert cluster.selector["color"] == "blue"
    assert cluster.deployments["green"]["spec"]["replicas"] == 0
    watch = [entry for entry in read_entries(tmp_path / "audit.jsonl") if entry.step == "watch"][-1]
    assert watch.result == "failed"


# -- the A/B split: the HTTPRoute's weights ------------------------------------------------------


def splitting(cluster: FakeCluster, tmp_path: Path, percent: int = 20) -> str:
    """v1 live on blue, then v2 on green at `percent` through the controller."""
    assert rollout(cluster, "v1", tmp_path) == "deployed"
    settings = DeploySettings(readiness_deadline_s=10, audit_log=tmp_path / "audit.jsonl")
    clock = FakeClock()
    controller = Controller(target_for(cluster), settings, None, clock, clock.sleep)
    candidate = Candidate(Release("v2", f"{IMAGE[:-1]}2"), ANSWERS)
    return controller.deploy(candidate, split=percent).decision


def test_a_split_weighs_the_route_80_20_and_records_itself_on_it(tmp_path: Path) -> None:
    cluster = FakeCluster(service_factory=healthy)
    assert splitting(cluster, tmp_path) == "splitting"
    assert cluster.weights() == {"blue": 80, "green": 20}
    assert cluster.pins() == {"blue": ["greenlight-blue"], "green": ["greenlight-green"]}
    assert cluster.selector["color"] == "blue"  # the Service still names the live color
    recorded = cluster.route_annotations()
    assert (recorded[SPLIT_CANDIDATE], recorded[SPLIT_PERCENT]) == ("green", "20")
    assert cluster.deployments["green"]["spec"]["replicas"] == 2  # both colors serve


def test_a_fresh_target_reads_the_split_back_from_the_route(tmp_path: Path) -> None:
    cluster = FakeCluster(service_factory=healthy)
    splitting(cluster, tmp_path, percent=30)
    split = target_for(cluster).current_split()  # another process: nothing kept in memory
    assert split is not None and (split.candidate, split.percent) == ("green", 30)
    assert split.replaced is None  # green held nothing before
    state = target_for(cluster).state()
    assert state.split is not None and state.split.percent == 30 and state.live == "blue"


def test_a_second_deployment_is_refused_while_the_split_runs(tmp_path: Path) -> None:
    cluster = FakeCluster(service_factory=healthy)
    splitting(cluster, tmp_path)
    with pytest.raises(DeployError, match="takes 20% in a split"):
        rollout(cluster, "v3", tmp_path)


def test_a_switch_ends_the_split(tmp_path: Path) -> None:
    cluster = FakeCluster(service_factory=healthy)
    splitting(cluster, tmp_path)
    target_for(cluster).switch("green")
    assert cluster.weights() == {"blue": 0, "green": 100}
    assert not any(key.startswith("greenlight.dev/split") for key in cluster.route_annotations())
    assert target_for(cluster).current_split() is None
    assert cluster.route is not None and cluster.route["spec"]["parentRefs"]  # the rest is kept


def test_a_switch_without_the_route_still_moves_the_selector(tmp_path: Path) -> None:
    cluster = FakeCluster(service_factory=healthy, route=None)  # no Gateway API in the cluster
    assert rollout(cluster, "v1", tmp_path) == "deployed"
    assert rollout(cluster, "v2", tmp_path) == "deployed"
    assert cluster.selector["color"] == "green"
    assert target_for(cluster).state().split is None


def test_a_split_without_the_route_is_refused_naming_it() -> None:
    cluster = FakeCluster(service_factory=healthy, route=None)
    target = target_for(cluster)
    target.start("blue", Release("v1", IMAGE))
    while not target.available("blue"):
        pass
    target.switch("blue")
    target.start("green", Release("v2", IMAGE))
    while not target.available("green"):
        pass
    with pytest.raises(SplitRefused, match="httproutes/greenlight: no such HTTPRoute"):
        target.split("green", 20, None)


def decide_by_hand(cluster: FakeCluster, tmp_path: Path, action: Ending) -> str:
    settings = DeploySettings(audit_log=tmp_path / "audit.jsonl")
    return ManualDecision(target_for(cluster), settings, action, echo=None).run().action


def test_a_rollback_verdict_puts_all_traffic_back_and_stops_the_candidate(tmp_path: Path) -> None:
    cluster = FakeCluster(service_factory=healthy)
    splitting(cluster, tmp_path)
    assert decide_by_hand(cluster, tmp_path, "rollback") == "rollback"
    assert cluster.weights() == {"blue": 100, "green": 0} and cluster.selector["color"] == "blue"
    assert cluster.deployments["green"]["spec"]["replicas"] == 0
    assert VERSION not in cluster.annotations("green")  # green held nothing before the split
    entries = read_entries(tmp_path / "audit.jsonl")[-2:]
    assert [(e.step, e.result) for e in entries] == [("decide", "failed"), ("decision", "failed")]
    assert entries[0].details["rule"] == "manual" and entries[0].version == "v2"
    assert entries[1].details["decision"] == "rolled_back"
    assert target_for(cluster).state().split is None


def test_a_promote_verdict_switches_to_the_candidate(tmp_path: Path) -> None:
    cluster = FakeCluster(service_factory=healthy)
    splitting(cluster, tmp_path)
    assert decide_by_hand(cluster, tmp_path, "promote") == "promote"
    assert cluster.weights() == {"blue": 0, "green": 100} and cluster.selector["color"] == "green"
    assert cluster.deployments["blue"]["spec"]["replicas"] == 0
    assert cluster.annotations("blue")[VERSION] == "v1"  # kept for a later rollback
    last = read_entries(tmp_path / "audit.jsonl")[-1]
    assert last.details["decision"] == "promoted"


def test_a_verdict_without_a_split_is_refused(tmp_path: Path) -> None:
    cluster = FakeCluster(service_factory=healthy)
    rollout(cluster, "v1", tmp_path)
    with pytest.raises(DeployError, match="no split in progress"):
        decide_by_hand(cluster, tmp_path, "promote")


# -- RBAC: the Role allows exactly what the target calls -------------------------------------------

RBAC = Path(__file__).parents[2] / "deploy" / "k8s" / "deployer-rbac.yaml"
VERBS = {"GET": "get", "PATCH": "patch", "POST": "create"}


def requested(method: str, path: str) -> tuple[str, str, str | None, str]:
    """(apiGroup, resource, name, verb) of one API call, as the authorizer sees it."""
    parts = path.strip("/").split("/")
    group = "" if parts[0] == "api" else parts[1]
    rest = parts[2 if parts[0] == "api" else 3 :]  # namespaces/<ns>/<resource>[/<name>[/<sub>]]
    resource, name = rest[2], rest[3] if len(rest) > 3 else None
    if name and ":" in name and "/proxy" in path:
        resource = f"{resource}/proxy"
    verb = "list" if name is None and method == "GET" else VERBS[method]
    return group, resource, name, verb


def allowed(rules: list[dict[str, Any]], call: tuple[str, str, str | None, str]) -> bool:
    group, resource, name, verb = call
    return any(
        group in rule["apiGroups"]
        and resource in rule["resources"]
        and verb in rule["verbs"]
        and ("resourceNames" not in rule or name in rule["resourceNames"])
        for rule in rules
    )


def test_the_role_allows_every_call_of_a_split_and_its_verdict(tmp_path: Path) -> None:
    cluster = FakeCluster(service_factory=healthy)
    splitting(cluster, tmp_path)
    decide_by_hand(cluster, tmp_path, "rollback")
    role = next(d for d in yaml.safe_load_all(RBAC.read_text()) if d["kind"] == "Role")
    calls = {requested(method, path) for method, path in cluster.calls}
    refused = sorted(str(call) for call in calls if not allowed(role["rules"], call))
    assert refused == []
    granted = {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    routes = "gateway.networking.k8s.io", "httproutes"
    used = {verb for group, resource, _, verb in calls if (group, resource) == routes}
    assert {verb for *key, verb in granted if tuple(key) == routes} == used == {"get", "patch"}


def cli(cluster: FakeCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> Any:
    """`greenlight deploy ... --target kubernetes` with the fake cluster for the API server."""
    from typer.testing import CliRunner

    from greenlight.cli import app
    from greenlight.deploy import runner

    monkeypatch.setattr(
        runner, "kubernetes_from_env", lambda settings, environ: target_for(cluster)
    )
    params = tmp_path / "params.yaml"
    params.write_text(f"deploy:\n  audit_log: {tmp_path / 'audit.jsonl'}\n")
    command = ["deploy", *args, "--target", "kubernetes", "--params", str(params)]
    return CliRunner().invoke(app, command)


def test_status_shows_the_split_and_decide_takes_a_verdict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster = FakeCluster(service_factory=healthy)
    splitting(cluster, tmp_path)
    shown = cli(cluster, tmp_path, monkeypatch, "status")
    assert shown.exit_code == 0, shown.output
    split = json.loads(shown.output[: shown.output.rindex("}") + 1])["split"]
    assert (split["candidate"], split["percent"], split["variants"]) == ("green", 20, None)
    refused = cli(cluster, tmp_path, monkeypatch, "decide")
    assert refused.exit_code == 2 and "--verdict promote|rollback" in refused.output
    assert cluster.weights() == {"blue": 80, "green": 20}  # a refusal changes nothing
    rolled = cli(cluster, tmp_path, monkeypatch, "decide", "--verdict", "rollback")
    assert rolled.exit_code == 1, rolled.output
    assert cluster.weights() == {"blue": 100, "green": 0}
