"""`greenlight serve`: resolve the settings, check the bundle's manifest, then become
`bentoml serve` (exec, not a child process) so the PID the caller holds is the server's and a
SIGTERM or SIGINT to it stops the server and its workers.

With `serving.supervisor: false` it becomes BentoML's HTTP worker itself instead (the process
`bentoml serve` starts under its circus arbiter, same ASGI app, /livez, /readyz, /metrics), on a
socket bound here and inherited, as the arbiter hands its sockets to its workers: one process, no
arbiter (about 85 MiB), and no respawn of a worker that dies."""

from __future__ import annotations

import os
import shutil
import socket
import sys
import tempfile
from pathlib import Path
from typing import NoReturn

from greenlight.errors import ConfigError
from greenlight.manifest import read_manifest
from greenlight.serving.settings import ServingSettings
from greenlight.settings import resolve_serving

SERVICE = "greenlight.serving.service:Greenlight"
WORKER = "_bentoml_impl.worker.service"  # what `bentoml serve` runs per worker
BACKLOG = 2048  # BentoML's default (api_server.backlog)


def resolve(
    params: Path,
    bundle: Path | None,
    prediction_log: Path | None,
    workers: int | None,
    log_predictions: bool | None = None,
) -> ServingSettings:
    """Settings from params.yaml, GREENLIGHT_* variables and the options (None: not given);
    absolute paths, so the workers find them whatever their working directory."""
    overrides = {
        "bundle": bundle,
        "prediction_log": prediction_log,
        "workers": workers,
        "log_predictions": log_predictions,
    }
    settings = resolve_serving(params, os.environ, overrides)
    return settings.model_copy(
        update={
            "bundle": settings.bundle.resolve(),
            "prediction_log": settings.prediction_log.resolve(),
            "outcome_log": settings.outcome_path.resolve(),
        }
    )


def server_command(host: str, port: int) -> list[str]:
    return [sys.executable, "-m", "bentoml", "serve", SERVICE, "--host", host, "--port", str(port)]


def worker_command(listening: socket.socket) -> list[str]:
    """BentoML's worker on an inherited listening socket, as its supervisor starts worker 1."""
    fd = str(listening.fileno())
    return [sys.executable, "-m", WORKER, SERVICE, "--fd", fd, "--worker-id", "1"]


def listen(host: str, port: int) -> socket.socket:
    """A listening socket the exec'd worker inherits; ConfigError when it cannot be bound."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        listening = socket.create_server((host, port), family=family, backlog=BACKLOG)
    except OSError as error:
        raise ConfigError(f"cannot listen on {host}:{port}: {error.strerror}") from error
    listening.set_inheritable(True)
    return listening


def metrics_directory(port: int) -> Path:
    """An empty directory for Prometheus' multiprocess files (BentoML's metrics need one), one
    per port so that two colors side by side keep apart; emptied at each start."""
    directory = Path(tempfile.gettempdir()) / f"greenlight-metrics-{port}"
    shutil.rmtree(directory, ignore_errors=True)
    try:
        directory.mkdir()
    except OSError as error:
        raise ConfigError(f"metrics directory {directory}: {error.strerror}") from error
    return directory


def server_environment(settings: ServingSettings) -> dict[str, str]:
    environment = {**os.environ, **settings.environment(), "BENTOML_DO_NOT_TRACK": "True"}
    environment.setdefault("OMP_NUM_THREADS", "1")  # see service.py
    return environment


def check_ready_to_start(settings: ServingSettings) -> None:
    """Fail fast, in the caller's terminal, on what would make every worker fail."""
    read_manifest(settings.bundle)  # ArtifactError names the file
    log_dir = settings.prediction_log.parent
    try:
        log_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(f"prediction log directory {log_dir}: {error}") from error
    if not os.access(log_dir, os.W_OK):
        raise ConfigError(f"prediction log directory {log_dir} is not writable")


def serve(settings: ServingSettings, host: str, port: int) -> NoReturn:
    check_ready_to_start(settings)
    environment = server_environment(settings)
    if settings.supervisor:
        os.execve(sys.executable, server_command(host, port), environment)  # noqa: S606 (argv list)
    listening = listen(host, port)  # held until the exec: a collected socket closes its fd
    environment["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_directory(port))
    os.execve(sys.executable, worker_command(listening), environment)  # noqa: S606 (argv list)
