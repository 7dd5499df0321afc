"""`greenlight serve`: resolve the settings, check the bundle's manifest, then become
`bentoml serve` (exec, not a child process) so the PID the caller holds is the server's and a
SIGTERM or SIGINT to it stops the server and its workers."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import NoReturn

from greenlight.errors import ConfigError
from greenlight.manifest import read_manifest
from greenlight.serving.settings import ServingSettings
from greenlight.settings import resolve_serving

SERVICE = "greenlight.serving.service:Greenlight"


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
    command = server_command(host, port)
    os.execve(command[0], command, server_environment(settings))  # noqa: S606 (argv list, no shell)
