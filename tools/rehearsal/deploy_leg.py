"""The deploy leg's side of the rehearsal: the `production` environment (its secrets, and its
reviewer, which the harness plays at the gate STEP_BASH holds), load on the docker target's
HAProxy while a workflow rolls out, and what the container host runs, asked of the engine."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tools.rehearsal.load import Tally, proxy_load, tally
from tools.rehearsal.world import BASE_IMAGE, DOCKER_SOCKET, REGISTRY, REPOSITORY, World

PROXY_PORT = 8081  # deploy.docker.proxy_port's default: the rollout runs in the runner's $HOME
TARGET_LABEL = "greenlight.dev/target=greenlight"  # on every container and volume the target made
# What the team sets once it has a container host: the repository variable, and the `production`
# environment's secrets (DEPLOY_SSH_KEY and DEPLOY_KNOWN_HOSTS are for an ssh:// host only).
DEPLOY_VARIABLES = {"DEPLOY_TARGET": "docker"}
PRODUCTION_SECRETS = {"DEPLOY_DOCKER_HOST": DOCKER_SOCKET}
REVIEWER = "bob"


@dataclass
class Approval:
    job: str
    waited_s: float  # from the job's first step reaching the gate to the approval
    tags: list[str]  # what the registry held when the reviewer looked


@dataclass
class Watch:
    """One workflow run's deploy side: its approvals and the load's tally."""

    approvals: list[Approval] = field(default_factory=list)
    tally: Tally | None = None


def registry_tags(timeout_s: float = 10) -> list[str]:
    url = f"http://{REGISTRY}/v2/{REPOSITORY}/tags/list"
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as answer:
            return sorted(json.loads(answer.read()).get("tags") or [])
    except OSError:  # the repository does not exist yet (404), or no registry
        return []


def registry_has(digest: str) -> bool:
    """Whether the local registry serves the manifest of `digest` (sha256:...)."""
    url = f"http://{REGISTRY}/v2/{REPOSITORY}/manifests/{digest}"
    accept = "application/vnd.docker.distribution.manifest.v2+json, "
    accept += "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json"
    request = urllib.request.Request(url, method="HEAD", headers={"Accept": accept})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 (ours)
            return answer.status == 200
    except OSError:
        return False


class Reviewer:
    """Approves each job held at the gate of the run in progress, once, recording the wait."""

    def __init__(self, gate: Path, watch: Watch) -> None:
        self.gate, self.watch = gate, watch
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._look, daemon=True)

    def _look(self) -> None:
        while not self.stopping.wait(0.5):
            for pending in sorted(self.gate.glob("*.pending")):
                self._approve(pending)

    def _approve(self, pending: Path) -> None:
        waited = time.time() - pending.stat().st_mtime
        job = pending.read_text().strip()
        approval = Approval(job, waited, registry_tags())
        pending.with_suffix(".approved").write_text(f"approved by {REVIEWER}\n")
        pending.unlink()
        self.watch.approvals.append(approval)


@contextlib.contextmanager
def watching(world: World, load: bool) -> Iterator[Watch]:
    """While a workflow runs: the reviewer at the gate and, if asked, load on the proxy."""
    watch = Watch()
    reviewer = Reviewer(world.gate, watch)
    reviewer.thread.start()
    clients = proxy_load(PROXY_PORT) if load else None
    try:
        if clients:
            clients.__enter__()
        yield watch
    finally:
        reviewer.stopping.set()
        reviewer.thread.join(timeout=10)
        if clients:
            watch.tally = tally(clients.stop())


def host_command(world: World, *argv: str) -> tuple[int, str]:
    """A command on the container host, as the runner's login runs it: in its $HOME (the
    target's state, .deploy/docker/), with the engine of DEPLOY_DOCKER_HOST."""
    home = world.work / "runner-home"
    env = {**world.git.env, "HOME": str(home), "DOCKER_HOST": DOCKER_SOCKET}
    done = subprocess.run(
        list(argv), cwd=home, env=env, capture_output=True, text=True, check=False, timeout=600
    )
    return done.returncode, done.stdout + done.stderr


def host_status(world: World) -> dict:
    """`greenlight deploy status --target docker` on the container host, parsed."""
    greenlight = str(world.repo / ".venv" / "bin" / "greenlight")
    code, text = host_command(world, greenlight, "deploy", "status", "--target", "docker")
    if code != 0:
        raise RuntimeError(f"greenlight deploy status --target docker: {text[-400:]}")
    status, _ = json.JSONDecoder().raw_decode(text[text.index("{") :])
    return dict(status)


def live_release(world: World) -> tuple[str, str]:
    """(live color, the JSON of what it runs)."""
    status = host_status(world)
    live = str(status.get("live") or "")
    return live, json.dumps(status.get("colors", {}).get(live, {}))


def latest_decision(world: World) -> dict | None:
    """The container host's latest `decide` audit entry (its verdict and numbers), if any."""
    log = world.work / "runner-home" / ".deploy" / "audit.jsonl"
    lines = log.read_text().splitlines() if log.is_file() else []
    decided = [entry for entry in map(json.loads, lines) if entry.get("step") == "decide"]
    return decided[-1] if decided else None


def host_problem(world: World) -> str:
    """Why the container host cannot be rehearsed here ("" when it can): the engine and the
    registry of .ci/services.sh, and the base image the build uses."""
    try:
        code, text = host_command(world, "docker", "image", "inspect", BASE_IMAGE)
    except (OSError, subprocess.SubprocessError) as failure:
        return f"no docker client ({failure})"
    if code != 0:
        return f"no engine at {DOCKER_SOCKET} with {BASE_IMAGE}: {text.strip()[-200:]}"
    try:
        with urllib.request.urlopen(f"http://{REGISTRY}/v2/", timeout=5):
            return ""
    except OSError as failure:
        return f"no registry at {REGISTRY} ({failure}): `.ci/services.sh start` (as root)"


def target_leftovers(world: World) -> list[str]:
    """The target's containers and volumes the engine still has, and a listener on the proxy's
    port (HAProxy)."""
    found = []
    for kind in (["ps", "--all"], ["volume", "ls"]):
        argv = ["docker", *kind, "--quiet", "--filter", f"label={TARGET_LABEL}"]
        code, text = host_command(world, *argv)
        if code != 0:
            raise RuntimeError(f"{' '.join(argv)}: {text[-300:]}")
        found += [f"{kind[0]} {line}" for line in text.split()]
    with socket.socket() as probe:
        probe.settimeout(2)
        if probe.connect_ex(("127.0.0.1", PROXY_PORT)) == 0:
            found.append(f"a listener on 127.0.0.1:{PROXY_PORT}")
    return found
