"""Stage 5: group metrics (fairlearn MetricFrame) for every sensitive attribute on the test split,
with demographic parity and equalized odds differences, a seeded bootstrap interval for each, and
the thresholds of params.yaml. A group with fewer test records than `fairness.min_group_count` is
too small to judge: it is listed with its count only (no rates) and left out of the differences,
so five people neither fail nor pass the gate."""

from __future__ import annotations

import warnings
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
from greenlight.config import ConfidenceParams, FairnessParams, Params
from greenlight.files import read_parquet, write_json, write_with
from greenlight.paths import PREDICTIONS, REPORTS, SPLIT
from greenlight.stages.gate import judged_value, passes

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
    if len(groups) == 0:
        return {}
    frame = MetricFrame(
        metrics=GROUP_METRICS, y_true=y, y_pred=predicted, sensitive_features=groups
    )
    table = frame.by_group
    return {
        str(group): {name: _number(name, value) for name, value in row.items()}
        for group, row in table.iterrows()
    }


def attribute_report(
    y: np.ndarray, predicted: np.ndarray, groups: pd.Series, params: FairnessParams
) -> dict[str, Any]:
    """Group rows, differences over the groups large enough to judge, intervals, verdict."""
    groups = groups.reset_index(drop=True).astype(str)
    sizes = groups.value_counts()
    judged = groups.isin(sizes.index[sizes >= params.min_group_count]).to_numpy()
    kept = (y[judged], predicted[judged], groups[judged])
    rows = group_table(*kept) | too_small(sizes, params.min_group_count)
    report: dict[str, Any] = {"groups": dict(sorted(rows.items()))}
    report |= differences(*kept)
    report["interval"] = bootstrap_intervals(*kept, params.confidence)
    report["confidence_level"] = params.confidence.level
    report["min_group_count"] = params.min_group_count
    report["thresholds"] = dict(params.max_difference)
    report["passed"] = all(
        passes(judged_value(report, name, params.gate_on), limit)
        for name, limit in params.max_difference.items()
    )
    return report


def too_small(sizes: pd.Series, minimum: int) -> dict[str, dict[str, Any]]:
    small = sizes[sizes < minimum]
    return {str(group): {"count": int(n), "too_small": True} for group, n in small.items()}


def differences(y: np.ndarray, predicted: np.ndarray, groups: pd.Series) -> dict[str, Any]:
    """fairlearn's differences; None where fewer than two groups are large enough to compare."""
    if groups.nunique() < 2:
        return dict.fromkeys(DIFFERENCES)
    return {
        name: round(float(difference(y, predicted, sensitive_features=groups)), 6)
        for name, difference in DIFFERENCES.items()
    }


def cell_counts(y: np.ndarray, predicted: np.ndarray, codes: np.ndarray, groups: int) -> np.ndarray:
    """(groups, 4): counts of true negatives, false positives, false negatives, true positives."""
    cells = codes * 4 + 2 * np.asarray(y, dtype=np.int64) + np.asarray(predicted, dtype=np.int64)
    return np.bincount(cells, minlength=groups * 4).reshape(groups, 4)


def differences_from_counts(counts: np.ndarray) -> dict[str, np.ndarray]:
    """Both differences from cell counts (..., groups, 4), as fairlearn defines them: the largest
    minus the smallest group rate; equalized odds takes the worse of the TPR and FPR gaps."""
    tn, fp, fn, tp = np.moveaxis(counts.astype(np.float64), -1, 0)
    # A rate with no record to count (no positives in a resample) is NaN and left out; a draw
    # where no group has it gives NaN, which the interval's quantiles skip.
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        rates = {
            "selection": (fp + tp) / (tn + fp + fn + tp),
            "tpr": tp / (tp + fn),
            "fpr": fp / (fp + tn),
        }
        spread = {name: np.nanmax(rate, -1) - np.nanmin(rate, -1) for name, rate in rates.items()}
    return {
        "demographic_parity_difference": spread["selection"],
        "equalized_odds_difference": np.maximum(spread["tpr"], spread["fpr"]),
    }


def bootstrap_intervals(
    y: np.ndarray, predicted: np.ndarray, groups: pd.Series, confidence: ConfidenceParams
) -> dict[str, list[float]]:
    """Percentile bootstrap of each difference over records (seeded). Resampling records is a
    multinomial draw over the (group, label, prediction) cells, so it costs no per-record work."""
    if groups.nunique() < 2:
        return {}
    codes, names = pd.factorize(groups)
    counts = cell_counts(y, predicted, codes, len(names))
    rng = np.random.default_rng(confidence.seed)
    draws = rng.multinomial(len(y), counts.ravel() / len(y), size=confidence.resamples)
    tail = (1 - confidence.level) / 2
    return {
        name: [round(float(np.nanquantile(values, q)), 6) for q in (tail, 1 - tail)]
        for name, values in differences_from_counts(draws.reshape(-1, len(names), 4)).items()
    }


def run(params: Params) -> dict[str, Any]:
    scored = read_parquet(PREDICTIONS)
    test = read_parquet(SPLIT / "test.parquet")
    y = scored["y_true"].to_numpy()
    predicted = (scored["y_prob"].to_numpy() >= params.evaluate.threshold).astype(int)
    result = {
        attribute: attribute_report(y, predicted, test[attribute], params.fairness)
        for attribute in params.dataset.sensitive
    }
    write_json(REPORTS / "fairness.json", result)
    for attribute, report in result.items():
        path = REPORTS / "fairness" / f"{attribute}.png"
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
