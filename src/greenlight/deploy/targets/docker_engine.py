"""The container engine, through the docker CLI (which honours DOCKER_HOST: a local socket, or
ssh://user@host). The command lines and the reading of `docker inspect` are pure functions, tested
without an engine; `DockerCli` is the thin edge that runs them."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from greenlight.errors import GreenlightError, InfrastructureError

DIGEST_REFERENCE = re.compile(r"^(?P<name>[a-z0-9][a-z0-9._:/-]*)@sha256:[0-9a-f]{64}$")
ROOT_USERS = {"", "0", "root"}
LABEL = "greenlight.dev"  # every container and volume the target creates: <LABEL>/target=<prefix>
TAIL_CHARS = 300


class EngineError(InfrastructureError):
    """The docker CLI is missing or failed, or the engine is not in the state we asked for."""


class ImageRefError(GreenlightError, ValueError):
    """An image we will not run: not named by digest, or running as root."""


def check_digest_reference(reference: str) -> str:
    """`name@sha256:<64 hex>`: what runs is named by content, never by a tag that can move."""
    if not DIGEST_REFERENCE.match(reference):
        raise ImageRefError(
            f"{reference!r}: not an image reference by digest (<name>@sha256:<64 hex digits>)"
        )
    return reference


def check_user(user: str | None, reference: str) -> str:
    """The user a container runs as: refused when it is root, or unset (which is root)."""
    name = (user or "").split(":")[0]
    if name in ROOT_USERS:
        shown = repr(user) if user else "no USER"
        raise ImageRefError(
            f"{reference}: runs as {shown} (root); the image must name another USER"
        )
    return str(user)


@dataclass(frozen=True)
class ContainerSpec:
    """One color's container: what `docker run` gets."""

    name: str
    image: str
    labels: Mapping[str, str]
    port: int
    volume: str
    log_dir: str
    user: str | None
    env: Mapping[str, str]
    args: Sequence[str]
    stop_grace_s: float


# Least privilege for every color: the host network (on a 127.0.0.1 port), a read-only root
# filesystem, no capability, no privilege escalation, never restarted behind the target's back.
HARDENING = (
    "--network",
    "host",
    "--read-only",
    "--cap-drop",
    "ALL",
    "--security-opt",
    "no-new-privileges",
    "--restart",
    "no",
)


def run_args(spec: ContainerSpec) -> list[str]:
    """`docker run` for one color; the only writable path is its prediction-log volume."""
    labels = [part for key, value in spec.labels.items() for part in ("--label", f"{key}={value}")]
    user = ["--user", spec.user] if spec.user else []
    mount = ["--mount", f"type=volume,src={spec.volume},dst={spec.log_dir}"]
    stop = ["--stop-timeout", str(round(spec.stop_grace_s))]
    env = [part for key, value in spec.env.items() for part in ("--env", f"{key}={value}")]
    options = [*labels, *HARDENING, *user, *mount, *stop, *env]
    return ["run", "--detach", "--name", spec.name, *options, spec.image, *spec.args]


def fill(template: str, port: int, log_dir: str) -> str:
    """A setting's {port} and {log_dir} filled in."""
    return template.format(port=port, log_dir=log_dir)


@dataclass(frozen=True)
class ContainerInfo:
    """What `docker inspect` says about one container."""

    name: str
    id: str
    status: str  # created, running, paused, restarting, removing, exited, dead
    running: bool
    exit_code: int
    oom_killed: bool
    error: str
    finished_at: str
    health: str | None  # healthy, unhealthy, starting; None without a HEALTHCHECK
    image: str
    labels: Mapping[str, str] = field(default_factory=dict)


def parse_inspect(text: str) -> list[ContainerInfo]:
    """`docker inspect` JSON (an array of containers) -> what the target needs of each."""
    try:
        items = json.loads(text or "[]")
    except ValueError as error:
        raise EngineError(f"docker inspect printed no JSON: {text[:TAIL_CHARS]!r}") from error
    if not isinstance(items, list):
        raise EngineError(f"docker inspect printed {type(items).__name__}, not a list")
    return [_container(item) for item in items]


def _container(item: dict[str, Any]) -> ContainerInfo:
    state, config = item.get("State") or {}, item.get("Config") or {}
    health = state.get("Health") or {}
    return ContainerInfo(
        name=str(item.get("Name", "")).lstrip("/"),
        id=str(item.get("Id", "")),
        status=str(state.get("Status", "unknown")),
        running=bool(state.get("Running")),
        exit_code=int(state.get("ExitCode") or 0),
        oom_killed=bool(state.get("OOMKilled")),
        error=str(state.get("Error") or ""),
        finished_at=str(state.get("FinishedAt") or ""),
        health=health.get("Status"),
        image=str(config.get("Image", "")),
        labels=dict(config.get("Labels") or {}),
    )


def describe(info: ContainerInfo | None) -> str:
    """A container's condition in words, from the engine's own record of it."""
    if info is None:
        return "dead: its container is gone"
    if info.running:
        health = f", {info.health}" if info.health else ""
        return f"running: container {info.name} ({info.id[:12]}{health})"
    how = "killed by the kernel (out of memory)" if info.oom_killed else f"code {info.exit_code}"
    error = f": {info.error}" if info.error else ""
    return f"dead: container {info.name} is {info.status}, exit {how} at {info.finished_at}{error}"


@dataclass(frozen=True)
class DockerCli:
    """Runs `docker <args>` with the given environment (DOCKER_HOST...), bounded in time."""

    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    timeout_s: float = 300.0
    binary: str = "docker"

    def __call__(self, *args: str, check: bool = True) -> str:
        command = [self._binary(), *args]
        try:
            done = subprocess.run(
                command,
                capture_output=True,
                text=True,
                env=dict(self.environ),
                timeout=self.timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired as error:
            raise EngineError(f"docker {args[0]} took more than {self.timeout_s:g}s") from error
        if check and done.returncode != 0:
            raise EngineError(f"docker {' '.join(args[:3])}: {done.stderr.strip()[-TAIL_CHARS:]}")
        return done.stdout

    def _binary(self) -> str:
        found = shutil.which(self.binary)
        if found is None:
            raise EngineError(f"{self.binary}: no docker CLI on PATH (the docker target needs it)")
        return found

    def inspect(self, names: Sequence[str]) -> dict[str, ContainerInfo]:
        """The named containers that exist (a missing one is simply absent), by name."""
        found = self("inspect", "--type", "container", *names, check=False) if names else "[]"
        return {info.name: info for info in parse_inspect(found)}

    def labelled(self, kind: Literal["container", "volume"], label: str) -> list[str]:
        """Names of the containers or volumes carrying `label`."""
        if kind == "container":
            listing = ["ps", "--all", "--filter", f"label={label}", "--format", "{{.Names}}"]
        else:
            listing = ["volume", "ls", "--filter", f"label={label}", "--format", "{{.Name}}"]
        return [line for line in self(*listing).splitlines() if line.strip()]

    def image_user(self, reference: str) -> str:
        return self("image", "inspect", "--format", "{{json .Config.User}}", reference).strip('"\n')
