"""`greenlight drift`, end to end: the deployed model's features and version from its bundle, the
window of logged traffic, the training features as reference with the model's own predictions on
them, Evidently, and the three reports. Pure steps in the modules it calls; I/O here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from greenlight.artifacts import Bundle, load_bundle
from greenlight.files import read_parquet
from greenlight.logformat import logged_features
from greenlight.manifest import read_manifest
from greenlight.monitor import log_reader, window
from greenlight.monitor.drift import Comparison, DriftResult, measure
from greenlight.monitor.errors import SchemaMismatchError
from greenlight.monitor.report import write_reports
from greenlight.monitor.settings import DriftParams
from greenlight.paths import BUNDLE, REPORTS, SPLIT
from greenlight.spec import DatasetSpec


@dataclass(frozen=True)
class DriftJob:
    settings: DriftParams
    log: Path | None = None  # default: settings.prediction_log
    bundle: Path = BUNDLE
    reference: Path = SPLIT / "train.parquet"
    reports: Path = REPORTS
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def log_path(self) -> Path:
        return self.log or self.settings.prediction_log


@dataclass(frozen=True)
class Model:
    """What the drift job needs to know of the deployed model, read from its manifest."""

    version: str
    spec: DatasetSpec
    features: tuple[str, ...]  # logged features: the model's, without the sensitive columns

    @property
    def numeric(self) -> tuple[str, ...]:
        return tuple(self.spec.numeric(list(self.features)))

    @property
    def categorical(self) -> tuple[str, ...]:
        return tuple(self.spec.categorical(list(self.features)))

    @property
    def prediction_column(self) -> str:
        return f"predicted_{self.spec.target.column}"


def run(job: DriftJob) -> tuple[DriftResult, dict[str, Any]]:
    """Measure drift, write reports/drift.{html,json,md}; the result and the run's context."""
    model = read_model(job.bundle)
    current, context = current_window(job, model)
    bundle = load_bundle(job.bundle)
    reference, context["reference"] = reference_sample(job, model, bundle)
    comparison = Comparison(
        reference, current, model.numeric, model.categorical, model.prediction_column
    )
    result, evidently_run = measure(comparison, job.settings.p_value, job.settings.drift_share)
    context["prediction"] = prediction_context(comparison, model)
    write_reports(job.reports, result, context, evidently_run)
    return result, context


def read_model(bundle: Path) -> Model:
    manifest = read_manifest(bundle)
    spec = DatasetSpec.model_validate(manifest["dataset"])
    features = logged_features(manifest["features"], spec.sensitive)
    return Model(str(manifest["model_version"]), spec, features)


def current_window(job: DriftJob, model: Model) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The logged traffic to compare: deployed version, in the window, sampled; and its context."""
    log = log_reader.read_log(job.log_path, model.features)
    log_reader.check_types(log, model.numeric, model.categorical)
    served, version = window.one_model_version(log, model.version)
    selected = window.select_window(served, job.settings.window, job.now)
    sampled = window.sample(selected, job.settings.max_rows, job.settings.seed)
    current = _typed(sampled, model).assign(
        **{model.prediction_column: sampled[log_reader.LABEL].to_numpy()}
    )
    context = _window_context(job, selected, len(sampled))
    context.update(model_version=version, bundle_model_version=model.version)
    context["other_model_versions_left_out"] = window.other_versions(log, version)
    return current, context


def _window_context(job: DriftJob, selected: pd.DataFrame, sampled: int) -> dict[str, Any]:
    stamps = selected[log_reader.TIMESTAMP]
    start = job.settings.window.start(job.now)
    return {
        "log": str(job.log_path),
        "generated_at": job.now.isoformat(),
        "window": {
            "description": job.settings.window.describe(),
            "start": start.isoformat() if start else None,
            "end": job.now.isoformat(),
            "first_prediction": stamps.min().isoformat(),
            "last_prediction": stamps.max().isoformat(),
            "rows": len(selected),
            "sampled": sampled,
        },
    }


def reference_sample(
    job: DriftJob, model: Model, bundle: Bundle
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The training features, sampled, with the deployed model's predicted class for each row."""
    training = read_parquet(job.reference)
    missing = [name for name in model.features if name not in training.columns]
    if missing:
        raise SchemaMismatchError(f"{job.reference}: lacks the model's features {missing}")
    sampled = window.sample(training, job.settings.max_rows, job.settings.seed)
    predicted = predicted_labels(bundle, sampled, model.spec)
    reference = _typed(sampled, model).assign(**{model.prediction_column: predicted})
    context = {"path": str(job.reference), "rows": len(training), "sampled": len(sampled)}
    return reference, context


def predicted_labels(bundle: Bundle, records: pd.DataFrame, spec: DatasetSpec) -> np.ndarray:
    """The class the service would answer: positive at or above the bundle's threshold."""
    positive = bundle.predict_proba(records) >= bundle.threshold
    return np.where(positive, spec.target.positive, spec.target.negative)


def _typed(frame: pd.DataFrame, model: Model) -> pd.DataFrame:
    """The features alone: numbers as floats (null: NaN), categories as objects (null: None)."""
    numbers = {name: pd.to_numeric(frame[name]).astype(float) for name in model.numeric}
    categories = {
        name: frame[name].astype(object).where(frame[name].notna(), None)
        for name in model.categorical
    }
    return pd.DataFrame({**numbers, **categories}, index=frame.index)[list(model.features)]


def prediction_context(comparison: Comparison, model: Model) -> dict[str, Any]:
    """How the predicted class was compared, and the positive share on each side."""
    column, positive = model.prediction_column, model.spec.target.positive
    return {
        "positive_label": positive,
        "reference_predictions": "the deployed model's predictions on the reference sample",
        "positive_share": {
            "reference": float((comparison.reference[column] == positive).mean()),
            "current": float((comparison.current[column] == positive).mean()),
        },
    }
