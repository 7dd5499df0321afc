"""The `drift:` and `monitor:` sections of params.yaml, fields of greenlight.settings.Settings: a
bad value is reported with its dotted key, e.g. `drift.window.days`."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from pydantic import Field, model_validator

from greenlight.settings_base import Strict

DEFAULT_LOG = Path("logs/predictions.jsonl")
DEFAULT_SOURCE = "remote://team/prediction-logs"
DEFAULT_OUTCOMES = Path("logs/outcomes.jsonl")


class Window(Strict):
    """Exactly one of: the last `hours` or `days` before now, or the newest `rows` predictions."""

    hours: int | None = Field(None, ge=1)
    days: int | None = Field(None, ge=1)
    rows: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _exactly_one(self) -> Window:
        chosen = [name for name in ("hours", "days", "rows") if getattr(self, name) is not None]
        if len(chosen) != 1:
            raise ValueError(f"set exactly one of hours, days, rows (got {chosen or 'none'})")
        return self

    def start(self, now: datetime) -> datetime | None:
        """The oldest timestamp a time window keeps; None for a row window."""
        if self.rows is not None:
            return None
        return now - timedelta(hours=self.hours or 0, days=self.days or 0)

    def describe(self) -> str:
        if self.rows is not None:
            return f"the newest {self.rows:,} predictions"
        count, unit = (self.hours, "hour") if self.hours else (self.days, "day")
        return f"the last {count} {unit}{'' if count == 1 else 's'}"


class DriftParams(Strict):
    source: str = DEFAULT_SOURCE  # where `greenlight drift-fetch` gets the log (dvc get-url URL)
    prediction_log: Path = DEFAULT_LOG
    window: Window = Window(days=7)
    max_rows: int = Field(50_000, ge=100)  # reference and window are each sampled down to this
    seed: int = 42
    p_value: float = Field(0.01, gt=0, lt=1)  # a feature drifts when its p-value is below this
    drift_share: float = Field(0.15, gt=0, le=1)  # traffic drifts when this share of features does


class MaxDrop(Strict):
    """How far below the model's test figure a live figure may fall before it is a degradation."""

    accuracy: float = Field(0.05, gt=0, lt=1)
    roc_auc: float = Field(0.05, gt=0, lt=1)


class MaxRise(Strict):
    """How far above the model's test figure a live error figure may rise."""

    brier: float = Field(0.03, gt=0, lt=1)


class PerformanceParams(Strict):
    outcome_log: Path = DEFAULT_OUTCOMES  # JSON Lines, docs/outcome-log.md
    window: Window = Window(days=30)  # over the predictions' timestamps
    min_outcomes: int = Field(500, ge=10)  # fewer labelled predictions: "not enough outcomes"
    max_drop: MaxDrop = MaxDrop()
    max_rise: MaxRise = MaxRise()


class MonitorParams(Strict):
    performance: PerformanceParams = PerformanceParams()
