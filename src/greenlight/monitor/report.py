"""The drift reports: `drift.json` (machine-readable, per feature test, statistic, p-value and
drifted, and the verdict), `drift.md` (a short summary, the body of the drift issue) and
`drift.html` (Evidently's report, to read the distributions). Atomic writes: a failed run keeps
the previous reports."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from greenlight.files import write_json, write_text, write_with
from greenlight.markdown import table
from greenlight.monitor.drift import ColumnDrift, DriftResult

if TYPE_CHECKING:
    from evidently import Run

REPORT_FORMAT = 1
FILES = ("drift.html", "drift.json", "drift.md")


def write_reports(reports: Path, result: DriftResult, context: dict[str, Any], run: Run) -> None:
    write_with(reports / "drift.html", lambda path: run.save_html(str(path)))
    write_json(reports / "drift.json", drift_json(result, context))
    write_text(reports / "drift.md", drift_markdown(result, context))


def verdict(result: DriftResult) -> str:
    return "drift" if result.drifted else "no drift"


def drift_json(result: DriftResult, context: dict[str, Any]) -> dict[str, Any]:
    prediction = {**_column_json(result.prediction), **context.get("prediction", {})}
    return {
        "format": REPORT_FORMAT,
        "verdict": verdict(result),
        "drift": result.drifted,
        "drifted_features": result.drifted_features,
        "share_drifted": result.share,
        "drift_share_threshold": result.drift_share,
        "p_value_threshold": result.p_value,
        "features": {feature.column: _column_json(feature) for feature in result.features},
        "prediction": prediction,
        **{key: value for key, value in context.items() if key != "prediction"},
        "evidently_version": _evidently_version(),
    }


def _column_json(column: ColumnDrift) -> dict[str, Any]:
    return {
        "column": column.column,
        "test": column.test,
        "test_name": column.test_name,
        "statistic": _finite(column.statistic),  # a category new to the traffic gives infinity
        "p_value": column.p_value,
        "drifted": column.drifted,
        "missing_share": dict(zip(("reference", "current"), column.missing_share, strict=True)),
    }


def drift_markdown(result: DriftResult, context: dict[str, Any]) -> str:
    """A short summary: the verdict, what drifted, the predicted class, one table, the window."""
    heading = "Drift detected" if result.drifted else "No drift"
    lines = [
        f"## {heading} in production traffic (model `{context.get('model_version', '?')}`)",
        "",
        _share_line(result),
        _prediction_line(result.prediction, context.get("prediction", {})),
        "",
        _window_line(context),
        *_version_note(context),
        "",
        _feature_table(result),
        "",
        f"A feature drifts when its p-value is below {result.p_value}; the traffic drifts when "
        f"at least {result.drift_share:.0%} of the features do. Full report: `drift.html`.",
    ]
    return "\n".join(lines) + "\n"


def _share_line(result: DriftResult) -> str:
    count, total = len(result.drifted_features), len(result.features)
    names = ", ".join(f"`{name}`" for name in result.drifted_features) or "none"
    return (
        f"**{count} of {total} features drifted** ({result.share:.0%}, threshold "
        f"{result.drift_share:.0%}): {names}."
    )


def _prediction_line(prediction: ColumnDrift, context: dict[str, Any]) -> str:
    shares = context.get("positive_share", {})
    label = context.get("positive_label", "positive")
    state = "drifted" if prediction.drifted else "stable"
    return (
        f"Predicted class: {_percent(shares.get('current'))} `{label}` in the traffic against "
        f"{_percent(shares.get('reference'))} for the model on the reference data: {state} "
        f"({prediction.test_name} p = {_p(prediction.p_value)})."
    )


def _window_line(context: dict[str, Any]) -> str:
    window, reference = context.get("window", {}), context.get("reference", {})
    return (
        f"Window: {window.get('description', '?')}, {window.get('rows', 0):,} predictions from "
        f"{window.get('first_prediction', '?')} to {window.get('last_prediction', '?')} "
        f"({window.get('sampled', 0):,} compared) against {reference.get('sampled', 0):,} rows of "
        f"the training data (`{reference.get('path', '?')}`)."
    )


def _version_note(context: dict[str, Any]) -> list[str]:
    others = context.get("other_model_versions_left_out") or {}
    notes = []
    if others:
        left_out = ", ".join(f"`{name}` ({count:,})" for name, count in others.items())
        notes.append(f"Predictions of other model versions left out: {left_out}.")
    return notes


def _feature_table(result: DriftResult) -> str:
    # drifted first, the untestable (no p-value) at the top, then by p-value
    ordered = sorted(result.features, key=lambda f: (not f.drifted, _p_order(f), f.column))
    rows = [
        (f"`{f.column}`", f.test_name, _number(f.statistic), _p(f.p_value), _drifted(f.drifted))
        for f in ordered
    ]
    return table(["feature", "test", "statistic", "p-value", "drifted"], rows)


def _p_order(feature: ColumnDrift) -> float:
    return -1.0 if feature.p_value is None else feature.p_value


def _drifted(drifted: bool) -> str:
    return "**yes**" if drifted else "no"


def _p(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3g}"


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _evidently_version() -> str:
    from importlib.metadata import version  # noqa: PLC0415

    return version("evidently")
