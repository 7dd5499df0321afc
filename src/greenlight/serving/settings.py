"""Serving knobs: the `serving:` section of params.yaml (greenlight.settings.Settings.serving),
overridable per process by environment variables. `greenlight serve` resolves them once and hands
them to the BentoML worker processes through the environment, so two services (blue and green)
can run side by side with different ports and log paths."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import Field, ValidationInfo, field_validator

from greenlight.known_answers import DEFAULT_TOLERANCE
from greenlight.paths import BUNDLE
from greenlight.settings_base import Strict, check

# Each setting's environment variable; the service reads only these.
ENVIRONMENT = {
    "bundle": "GREENLIGHT_BUNDLE",
    "prediction_log": "GREENLIGHT_PREDICTION_LOG",
    "log_predictions": "GREENLIGHT_LOG_PREDICTIONS",
    "outcome_log": "GREENLIGHT_OUTCOME_LOG",
    "max_batch": "GREENLIGHT_MAX_BATCH",
    "max_body_bytes": "GREENLIGHT_MAX_BODY_BYTES",
    "workers": "GREENLIGHT_WORKERS",
    "access_log": "GREENLIGHT_ACCESS_LOG",
    "coalesce": "GREENLIGHT_COALESCE",
    "log_max_bytes": "GREENLIGHT_LOG_MAX_BYTES",
    "log_keep": "GREENLIGHT_LOG_KEEP",
    "log_flush_seconds": "GREENLIGHT_LOG_FLUSH_SECONDS",
    "log_queue_lines": "GREENLIGHT_LOG_QUEUE_LINES",
    "gc_freeze": "GREENLIGHT_GC_FREEZE",
    "known_answer_tolerance": "GREENLIGHT_KNOWN_ANSWER_TOLERANCE",
    "model_thread": "GREENLIGHT_MODEL_THREAD",
    "supervisor": "GREENLIGHT_SUPERVISOR",
}


class ServingSettings(Strict):
    bundle: Path = BUNDLE
    prediction_log: Path = Path("logs/predictions.jsonl")
    # false: no prediction log at all (nothing queued, formatted or written); drift, POST
    # /feedback and the deploy's shadow check then have no traffic to read
    log_predictions: bool = True
    # where POST /feedback appends outcomes; None: outcomes.jsonl beside the prediction log
    outcome_log: Path | None = None
    max_batch: int = Field(1000, ge=1, le=100_000)
    max_body_bytes: int = Field(4_000_000, ge=1024)
    workers: int = Field(1, ge=1, le=64)
    access_log: bool = False  # one log line per HTTP request: ~1 ms of CPU each on 2 cores
    coalesce: bool = True  # concurrent requests share one model call (serving/batcher.py)
    log_max_bytes: int = Field(50_000_000, ge=1024)
    log_keep: int = Field(5, ge=1, le=1000)
    log_flush_seconds: float = Field(0.5, gt=0, le=60)
    # lines waiting for the writer at most; beyond that an entry is dropped and counted
    log_queue_lines: int = Field(50_000, ge=1, le=10_000_000)
    # after startup, move the heap (model, libraries) out of the garbage collector's sight
    gc_freeze: bool = True
    # |served - recorded| per known answer, in the warm-up and in the deploy smoke test
    known_answer_tolerance: float = Field(DEFAULT_TOLERANCE, ge=0, le=0.01)
    # the coalesced model call runs in a thread of its own, one at a time, so that the event loop
    # reads the next requests meanwhile (they join the next call); false: on the event loop
    model_thread: bool = True
    # `greenlight serve` starts BentoML's supervisor (`bentoml serve`: a circus arbiter of about
    # 85 MiB that respawns a dead worker); false: BentoML's HTTP worker alone, on a socket
    # `greenlight serve` binds (one process, ~26 % less memory, nobody respawns it; workers: 1)
    supervisor: bool = True

    @field_validator("supervisor")
    @classmethod
    def _one_worker_without_one(cls, supervisor: bool, info: ValidationInfo) -> bool:
        workers = info.data.get("workers", 1)
        if not supervisor and workers != 1:
            raise ValueError(f"false runs one process, so workers must be 1 (got {workers})")
        return supervisor

    @property
    def outcome_path(self) -> Path:
        return self.outcome_log or self.prediction_log.with_name("outcomes.jsonl")

    def environment(self) -> dict[str, str]:
        """The variables that make a worker process see exactly these settings (an unset one is
        left out: its default)."""
        values = self.model_dump().items()
        return {ENVIRONMENT[name]: str(value) for name, value in values if value is not None}


def environment_values(environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    return {name: environ[var] for name, var in ENVIRONMENT.items() if var in environ}


def from_environment(environ: Mapping[str, str] = os.environ) -> ServingSettings:
    """What a worker process runs with: every variable that is set, defaults for the rest."""
    return parse(environment_values(environ), source="environment (GREENLIGHT_*)")


def parse(values: Mapping[str, object], source: str, section: str = "") -> ServingSettings:
    return check(ServingSettings, dict(values), source, section)
