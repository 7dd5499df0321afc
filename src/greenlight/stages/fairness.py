"""Stage 5: group metrics (fairlearn MetricFrame) for every sensitive attribute on the test split,
with demographic parity and equalized odds differences checked against params.yaml thresholds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from fairlearn.metrics import (
    MetricFrame,
    count,
    demographic_parity_difference,
    equalized_odds_difference,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn.metrics import accuracy_score

from greenlight import plots
from greenlight.config import Params
from greenlight.files import read_parquet, write_json, write_with
from greenlight.paths import PREDICTIONS, REPORTS, SPLIT

GROUP_METRICS = {
    "count": count,
    "selection_rate": selection_rate,
    "true_positive_rate": true_positive_rate,
    "false_positive_rate": false_positive_rate,
    "accuracy": accuracy_score,
}
DIFFERENCES = {
    "demographic_parity_difference": demographic_parity_difference,
    "equalized_odds_difference": equalized_odds_difference,
}


def group_table(y: np.ndarray, predicted: np.ndarray, groups: pd.Series) -> dict[str, dict]:
    frame = MetricFrame(
        metrics=GROUP_METRICS, y_true=y, y_pred=predicted, sensitive_features=groups
    )
    table = frame.by_group
    return {
        str(group): {name: _number(name, value) for name, value in row.items()}
        for group, row in table.iterrows()
    }


def attribute_report(
    y: np.ndarray, predicted: np.ndarray, groups: pd.Series, limits: dict[str, float]
) -> dict[str, Any]:
    report: dict[str, Any] = {"groups": group_table(y, predicted, groups)}
    for name, difference in DIFFERENCES.items():
        report[name] = round(float(difference(y, predicted, sensitive_features=groups)), 6)
    report["thresholds"] = dict(limits)
    report["passed"] = all(report[name] <= limit for name, limit in limits.items())
    return report


def run(
    params: Params,
    predictions: Path = PREDICTIONS,
    split_dir: Path = SPLIT,
    reports: Path = REPORTS,
) -> dict[str, Any]:
    scored = read_parquet(predictions)
    test = read_parquet(split_dir / "test.parquet")
    y = scored["y_true"].to_numpy()
    predicted = (scored["y_prob"].to_numpy() >= params.evaluate.threshold).astype(int)
    limits = params.fairness.max_difference
    result = {
        attribute: attribute_report(y, predicted, test[attribute].astype(str), limits)
        for attribute in params.dataset.sensitive
    }
    write_json(reports / "fairness.json", result)
    for attribute, report in result.items():
        path = reports / "fairness" / f"{attribute}.png"
        write_with(path, lambda p, a=attribute, g=report["groups"]: plots.group_rates(a, g, p))
    return result


def _number(name: str, value: Any) -> float | int | None:
    """JSON-safe: counts as integers, rates rounded, an undefined rate (no positives) as null."""
    if name == "count":
        return int(value)
    return None if np.isnan(value) else round(float(value), 6)


def main(params: Params) -> dict[str, Any]:
    """The differences and verdicts per attribute (the group tables are in fairness.json)."""
    result = run(params)
    return {
        name: {k: v for k, v in report.items() if k != "groups"} for name, report in result.items()
    }
