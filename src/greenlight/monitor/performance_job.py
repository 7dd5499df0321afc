"""`greenlight outcomes import` and `greenlight monitor performance`, end to end: the I/O around
the pure steps of `outcomes` and `performance`. The prediction log is read by the drift
monitor's reader and window (one reader of the log format)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from greenlight import outcomes
from greenlight.errors import ArtifactError
from greenlight.filelock import locked
from greenlight.files import read_json
from greenlight.monitor import log_reader, performance, window
from greenlight.monitor.job import Model, read_model
from greenlight.monitor.performance_report import PerformanceResult, write_reports
from greenlight.monitor.settings import PerformanceParams
from greenlight.outcomes import KEY_FIELDS, Key, OutcomeError
from greenlight.paths import BUNDLE, REPORTS

TEST_FIGURES = ("accuracy", "roc_auc", "brier")


@dataclass(frozen=True)
class ImportJob:
    labels: Path
    outcome_log: Path
    prediction_log: Path
    bundle: Path = BUNDLE
    now: datetime = field(default_factory=lambda: datetime.now(UTC))


def import_outcomes(job: ImportJob) -> int:
    """Check the labels file whole against the spec, the outcome log and the prediction log,
    then append it; the number of outcomes imported."""
    model = read_model(job.bundle)
    labels = _labels(model)
    given = outcomes.parse_labels(outcomes.read_rows(job.labels), labels, model.spec.sensitive)
    outcomes.check_unique(job.labels, given)
    outcomes.check_predicted(job.labels, given, predicted_keys(job.prediction_log, model))
    with locked(job.outcome_log):  # the service's POST /feedback appends to the same log
        recorded = {outcome.key for outcome in outcomes.read_outcome_log(job.outcome_log, labels)}
        outcomes.check_new(job.labels, given, recorded)
        outcomes.append_outcomes(job.outcome_log, given, job.now)
    return len(given)


def _labels(model: Model) -> tuple[str, str]:
    return (model.spec.target.positive, model.spec.target.negative)


def numbered_log(path: Path, model: Model) -> pd.DataFrame:
    log = log_reader.read_log(path, model.features)
    return log_reader.with_record_numbers(log)


def predicted_keys(path: Path, model: Model) -> set[Key]:
    log = numbered_log(path, model)
    return set(zip(log[log_reader.REQUEST_ID], log[log_reader.RECORD].astype(int), strict=True))


@dataclass(frozen=True)
class PerformanceJob:
    settings: PerformanceParams
    prediction_log: Path
    bundle: Path = BUNDLE
    metrics: Path = REPORTS / "metrics.json"  # the model's test figures (evaluate stage)
    reports: Path = REPORTS
    sensitive: Path | None = None  # request_id, record and sensitive attributes; access-controlled
    min_group_count: int = 30  # fairness.min_group_count
    now: datetime = field(default_factory=lambda: datetime.now(UTC))


def run(job: PerformanceJob) -> PerformanceResult:
    """Join the window's predictions with their outcomes, measure, compare, write the reports."""
    model = read_model(job.bundle)
    log = numbered_log(job.prediction_log, model)
    served, _ = window.one_model_version(log, model.version)
    selected = window.select_window(served, job.settings.window, job.now)
    recorded = outcomes.read_outcome_log(job.settings.outcome_log, _labels(model))
    joined = performance.join(selected, performance.outcome_frame(recorded))
    live = performance.figures(joined, model.spec.target.positive)
    done = performance.checks(live, read_test_figures(job.metrics), job.settings)
    result = PerformanceResult(
        verdict=performance.verdict(live, done, job.settings.min_outcomes),
        figures=live,
        checks=tuple(done),
        fairness=_fairness(job, model, joined),
        context=_context(job, model, selected, len(recorded) - len(joined)),
    )
    write_reports(job.reports, result)
    return result


def read_test_figures(path: Path) -> dict[str, float]:
    """accuracy, roc_auc and brier of the model on its test split (reports/metrics.json)."""
    metrics = read_json(path)
    missing = [name for name in TEST_FIGURES if not isinstance(metrics.get(name), int | float)]
    if missing:
        raise ArtifactError(f"{path}: no number for {missing}: run the evaluate stage")
    return {name: float(metrics[name]) for name in TEST_FIGURES}


def _fairness(job: PerformanceJob, model: Model, joined: pd.DataFrame) -> dict[str, Any] | None:
    """None without a sensitive-attribute file; else the differences per attribute."""
    if job.sensitive is None:
        return None
    groups = read_sensitive(job.sensitive, model.spec.sensitive)
    positive = model.spec.target.positive
    return performance.fairness(joined, groups, positive, job.min_group_count)


def read_sensitive(path: Path, attributes: list[str]) -> pd.DataFrame:
    """request_id, record and every sensitive attribute of the spec, one row per record."""
    rows = outcomes.read_rows(path)
    keys = []
    for where, row in rows:
        outcomes.check_columns(where, row.keys(), (*KEY_FIELDS, *attributes), ())
        keys.append((row["request_id"], outcomes.record_number(where, row["record"])))
    frame = pd.DataFrame([row for _, row in rows], columns=[*KEY_FIELDS, *attributes])
    frame[list(KEY_FIELDS)] = pd.DataFrame(keys, columns=list(KEY_FIELDS), index=frame.index)
    if frame.duplicated(list(KEY_FIELDS)).any():
        raise OutcomeError(f"{path}: a (request_id, record) pair is given more than once")
    return frame.rename(columns={"request_id": log_reader.REQUEST_ID, "record": log_reader.RECORD})


def _context(job: PerformanceJob, model: Model, selected: pd.DataFrame, other: int) -> dict:
    stamps = selected[log_reader.TIMESTAMP]
    return {
        "model_version": model.version,
        "prediction_log": str(job.prediction_log),
        "outcome_log": str(job.settings.outcome_log),
        "metrics": str(job.metrics),
        "generated_at": job.now.isoformat(),
        "window": job.settings.window.describe(),
        "first_prediction": stamps.min().isoformat(),
        "last_prediction": stamps.max().isoformat(),
        "predictions": len(selected),
        "outcomes_outside_window": other,
        "min_outcomes": job.settings.min_outcomes,
    }
