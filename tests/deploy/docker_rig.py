"""Helpers for the docker target's tests with a real engine and registry: GREENLIGHT_DOCKER_HOST
(default unix:///run/greenlight/docker.sock, what .ci/services.sh starts) and GREENLIGHT_REGISTRY
(default 127.0.0.1:5000). Stub images (tests/deploy/docker_stub: the serving endpoints, stdlib only,
on greenlight-base:bookworm) are built per version and pushed, and deployed by digest. Every
test's target has its own name prefix, state dir and proxy port, and is taken down by label and
PID on the way out, even on failure."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from deploy_rig import ANSWERS, haproxy_installed, stub_bundle

from greenlight.deploy.audit import AuditEntry, read_entries
from greenlight.deploy.controller import Controller, Outcome
from greenlight.deploy.runner import answers_lookup, bundle_candidate
from greenlight.deploy.settings import (
    DeploySettings,
    DockerSettings,
    SmokeSettings,
    SplitSettings,
    WatchSettings,
)
from greenlight.deploy.targets.docker import DockerTarget, open_docker
from greenlight.deploy.targets.docker_engine import LABEL
from greenlight.localnet import free_port

DOCKER_HOST = os.environ.get("GREENLIGHT_DOCKER_HOST", "unix:///run/greenlight/docker.sock")
REGISTRY = os.environ.get("GREENLIGHT_REGISTRY", "127.0.0.1:5000")
BASE = os.environ.get("GREENLIGHT_BASE_IMAGE", "greenlight-base:bookworm")
STUB = Path(__file__).parent / "docker_stub"
REPOSITORY = f"{REGISTRY}/greenlight-test-stub"
ENV = {**os.environ, "DOCKER_HOST": DOCKER_HOST}
# BuildKit builds the stub without a container per instruction (minutes each on the vfs driver);
# Debian's 20.10 client has it built in, a newer client needs the buildx plugin for it.
BUILD_CLI = os.environ.get("GREENLIGHT_DOCKER_BUILD_CLI") or (
    "/usr/bin/docker" if Path("/usr/bin/docker").is_file() else "docker"
)


def docker(*args: str, check: bool = True, timeout: float = 300) -> str:
    done = subprocess.run(
        ["docker", *args], capture_output=True, text=True, env=ENV, timeout=timeout, check=False
    )
    if check and done.returncode != 0:
        raise AssertionError(f"docker {' '.join(args[:3])}: {done.stderr.strip()[-500:]}")
    return done.stdout


def missing() -> str | None:
    """Why the real-engine tests cannot run here, or None."""
    if shutil.which("docker") is None:
        return "no docker CLI on PATH"
    if not haproxy_installed():
        return "haproxy is not installed (apt-get install haproxy)"
    socket = DOCKER_HOST.removeprefix("unix://")
    if DOCKER_HOST.startswith("unix://") and not Path(socket).exists():
        return f"no engine at {DOCKER_HOST} (.ci/services.sh start; or set GREENLIGHT_DOCKER_HOST)"
    if subprocess.run(["docker", "version"], env=ENV, capture_output=True, check=False).returncode:
        return f"the engine at {DOCKER_HOST} does not answer"
    return missing_registry_or_base()


def missing_registry_or_base() -> str | None:
    try:
        httpx.get(f"http://{REGISTRY}/v2/", timeout=3).raise_for_status()
    except httpx.HTTPError as error:
        return f"no registry at {REGISTRY} ({error}; set GREENLIGHT_REGISTRY)"
    if not docker("image", "ls", "--quiet", BASE).strip():
        return f"no base image {BASE} (.ci/services.sh makes it)"
    return None


REASON = missing()
needs_engine = pytest.mark.skipif(REASON is not None, reason=f"docker target: {REASON}")


def push_stub(version: str, fault: dict[str, Any] | None = None, **manifest: Any) -> str:
    """Build the stub image answering as `version` (misbehaving as `fault` says), push it, return
    `<repo>@sha256:<digest>`. The manifest (version, known answers, and `manifest`'s fields) is
    also where the serving image keeps its bundle's, for a split's figures."""
    document = {"format": 1, "model_version": version, "known_answers": ANSWERS, **manifest}
    tag = f"{REPOSITORY}:{version}"
    with tempfile.TemporaryDirectory(prefix="gl-stub-") as context:
        shutil.copytree(STUB, context, dirs_exist_ok=True)
        bundle = Path(context, "rootfs", DockerSettings().bundle_dir.lstrip("/"))
        bundle.mkdir(parents=True)
        (bundle / "manifest.json").write_text(json.dumps(document))
        build = [BUILD_CLI, "build", "--quiet", "--tag", tag, "--build-arg", f"BASE={BASE}"]
        build += ["--build-arg", f"MANIFEST={json.dumps(document)}"]
        build += ["--build-arg", f"FAULT={json.dumps(fault or {})}", context]
        env = {**ENV, "DOCKER_BUILDKIT": "1"}
        subprocess.run(build, env=env, capture_output=True, check=True, timeout=600)
    docker("push", "--quiet", tag, timeout=600)
    digest = docker("inspect", "--format", "{{index .RepoDigests 0}}", tag).strip()
    docker("rmi", tag)  # the image stays, by digest, until the test session removes it
    return digest


@dataclass
class DockerRig:
    settings: DeploySettings
    bundles: Path
    params: Path  # the same settings as a params file, for the `greenlight deploy` commands

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.settings.docker.proxy_port}/predict"

    @property
    def label(self) -> str:
        return f"{LABEL}/target={self.settings.docker.name_prefix}"

    def name(self, color: str) -> str:
        return f"{self.settings.docker.name_prefix}-{color}"

    def audit(self) -> list[AuditEntry]:
        return read_entries(self.settings.audit_log)

    def with_watch(self, **updates: Any) -> DockerRig:
        watch = self.settings.watch.model_copy(update=updates)
        return DockerRig(
            self.settings.model_copy(update={"watch": watch}), self.bundles, self.params
        )

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [
            sys.executable,
            "-m",
            "greenlight",
            "deploy",
            *args,
            "--params",
            str(self.params),
        ]
        return subprocess.run(
            command, capture_output=True, text=True, env=ENV, timeout=300, check=False
        )

    def ours(self) -> list[str]:
        """Every container and volume carrying this rig's label."""
        containers = docker(
            "ps", "--all", "--filter", f"label={self.label}", "--format", "{{.Names}}"
        )
        volumes = docker("volume", "ls", "--filter", f"label={self.label}", "--format", "{{.Name}}")
        return (containers + volumes).split()


def deploy(rig: DockerRig, version: str, image: str, split: int | None = None) -> Outcome:
    """One rollout of `image` (the stub answering as `version`), as `greenlight deploy` runs it;
    with `split`, the new version then takes that share beside the live one."""
    bundle = rig.bundles / version
    bundle = bundle if bundle.is_dir() else stub_bundle(rig.bundles, version)
    with open_docker(rig.settings.docker, ENV) as target:
        controller = Controller(target, rig.settings, echo=None)
        return controller.deploy(bundle_candidate(bundle, image), split=split)


def rollback(rig: DockerRig, bundle: Path) -> Outcome:
    with open_docker(rig.settings.docker, ENV) as target:
        controller = Controller(target, rig.settings, echo=None)
        return controller.rollback(answers_lookup("docker", bundle))


@contextmanager
def docker_target(rig: DockerRig) -> Iterator[DockerTarget]:
    with open_docker(rig.settings.docker, ENV) as target:
        yield target


def rig_settings(state: Path, split: SplitSettings | None = None) -> DeploySettings:
    prefix = f"gltest-{uuid.uuid4().hex[:8]}"
    docker_settings = DockerSettings(
        proxy_port=free_port(), state_dir=state, name_prefix=prefix, drain_s=5, stop_grace_s=5
    )
    watch = WatchSettings(
        window_s=3.0, interval_s=0.5, error_window_s=2.0, min_requests=5, max_latency_ms=2000
    )
    return DeploySettings(
        readiness_deadline_s=120.0,
        audit_log=state / "audit.jsonl",
        docker=docker_settings,
        watch=watch,
        smoke=SmokeSettings(latency_budget_ms=2000, latency_requests=5),
        split=split or SplitSettings(),
    )


@contextmanager
def docker_rig(bundles: Path, split: SplitSettings | None = None) -> Iterator[DockerRig]:
    """A private docker target (its own prefix, proxy port and short state dir: HAProxy's admin
    socket lives there); on the way out `down`, then anything left with its label, by force."""
    state = Path(tempfile.mkdtemp(prefix="gl-docker-"))
    settings = rig_settings(state, split)
    params = state / "params.yaml"
    params.write_text(yaml.safe_dump({"deploy": json.loads(settings.model_dump_json())}))
    rig = DockerRig(settings, bundles, params)
    try:
        yield rig
    finally:
        try:
            with open_docker(settings.docker, ENV, start_proxy=False) as target:
                target.down()
        finally:
            left = rig.ours()
            if left:
                docker("rm", "--force", *[n for n in left if not n.endswith("-logs")], check=False)
                docker(
                    "volume",
                    "rm",
                    "--force",
                    *[n for n in left if n.endswith("-logs")],
                    check=False,
                )
            shutil.rmtree(state, ignore_errors=True)
