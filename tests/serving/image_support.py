"""The container engine the image tests use: the private one .ci/services.sh starts
(GREENLIGHT_DOCKER_HOST, default unix:///run/greenlight/docker.sock), the local base image, and
containers that are always removed by ID."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

DOCKER_HOST = os.environ.get("GREENLIGHT_DOCKER_HOST", "unix:///run/greenlight/docker.sock")
BASE_IMAGE = os.environ.get("GREENLIGHT_BASE_IMAGE", "greenlight-base:bookworm")
REGISTRY = os.environ.get("GREENLIGHT_REGISTRY", "127.0.0.1:5000")
UID = 1034  # deploy/image/Dockerfile's user
LOG_DIR = "/var/log/greenlight"
BUNDLE_IN_IMAGE = "/app/models/bundle"
RUN_FLAGS = ("--network", "host", "--read-only", "--cap-drop", "ALL")
RUN_FLAGS += ("--security-opt", "no-new-privileges", "--user", f"{UID}:{UID}")


def docker(*arguments: str, timeout: float = 900) -> subprocess.CompletedProcess:
    engine = shutil.which("docker") or "docker"
    environment = {**os.environ, "DOCKER_HOST": DOCKER_HOST}
    return subprocess.run(
        [engine, *arguments],
        capture_output=True,
        text=True,
        check=False,
        env=environment,
        timeout=timeout,
    )


def engine_problem() -> str | None:
    """Why no image test can run here, or None."""
    if shutil.which("docker") is None:
        return "no docker client on PATH"
    info = docker("info", "--format", "{{.ServerVersion}}", timeout=30)
    if info.returncode != 0:
        return f"no Docker engine at {DOCKER_HOST} (.ci/services.sh starts one, as root)"
    if docker("image", "inspect", BASE_IMAGE, timeout=30).returncode != 0:
        return f"no base image {BASE_IMAGE} in the engine at {DOCKER_HOST} (.ci/services.sh)"
    return None


def remove_other_tags(tag: str) -> None:
    """Untag the images of `tag`'s repository but `tag`: a test image of an older digest would
    otherwise stay in the engine's storage (650 MB each under vfs) for good."""
    repository = tag.rpartition(":")[0]
    listed = docker("image", "ls", "--format", "{{.Repository}}:{{.Tag}}", repository, timeout=60)
    stale = [name for name in listed.stdout.split() if name != tag]
    if stale:
        docker("image", "rm", *stale, timeout=300)


def log_directory(path: Path) -> Path:
    """A host directory the image's user can write: the prediction-log volume."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        os.chown(path, UID, UID)
    else:
        path.chmod(0o777)
    return path


@dataclass
class Container:
    id: str
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def logs(self) -> str:
        done = docker("logs", self.id, timeout=60)
        return done.stdout + done.stderr

    def exec(self, *command: str) -> subprocess.CompletedProcess:
        return docker("exec", self.id, *command, timeout=60)


@contextmanager
def running(image: str, port: int, logs: Path, *mounts: str) -> Iterator[Container]:
    """The image run as production runs it; removed by ID afterwards, whatever happened."""
    volumes = [part for mount in (f"{logs}:{LOG_DIR}", *mounts) for part in ("-v", mount)]
    started = docker(
        "run",
        "--detach",
        *RUN_FLAGS,
        "-e",
        "BENTOML_HOST=127.0.0.1",
        "-e",
        f"BENTOML_PORT={port}",
        *volumes,
        image,
    )
    assert started.returncode == 0, started.stderr
    container = Container(started.stdout.strip(), port)
    try:
        yield container
    finally:
        docker("rm", "--force", container.id, timeout=120)


def wait_ready(container: Container, timeout_s: float = 180) -> bool:
    """True once /readyz answers 200; False at the deadline or when the container exited."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{container.url}/readyz", timeout=2).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        state = docker("inspect", "--format", "{{.State.Running}}", container.id, timeout=30)
        if state.stdout.strip() != "true":
            return False
        time.sleep(0.5)
    return False


def wait_for_log(container: Container, text: str, timeout_s: float = 180) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if text in container.logs():
            return True
        time.sleep(1)
    return False
