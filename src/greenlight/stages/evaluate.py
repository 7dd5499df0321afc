"""Stage 4: score the bundle on the test split. Writes reports/metrics.json, the curve data that
`dvc plots` reads, PNG renderings, permutation importance, the model's size (reports/cost.json)
and the test predictions. Every committed table is an aggregate: the confusion table holds four
counts, never a row per record. No timing: a DVC output holds the same bytes on every run
(training time is in reports/provenance.json, one-record latency in reports/latency.json, both
written where the stage ran and never committed; the PR report times base and branch itself)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve

from greenlight import plots
from greenlight.artifacts import Bundle, load_bundle
from greenlight.config import EvaluateParams, ImportanceParams, Params
from greenlight.features import target_vector
from greenlight.files import read_parquet, write_json, write_parquet, write_with
from greenlight.paths import BUNDLE, PREDICTIONS, REPORTS, SPLIT

MAX_CURVE_POINTS = 200  # enough for a smooth curve, small enough for a PR diff
SCORERS = {
    "roc_auc": skm.roc_auc_score,
    "neg_log_loss": lambda y, p: -skm.log_loss(y, p, labels=[0, 1]),
}


def compute_metrics(y: np.ndarray, probability: np.ndarray, threshold: float) -> dict[str, float]:
    predicted = probability >= threshold
    values = {
        "accuracy": skm.accuracy_score(y, predicted),
        "roc_auc": skm.roc_auc_score(y, probability),
        "f1": skm.f1_score(y, predicted, zero_division=0),
        "log_loss": skm.log_loss(y, probability, labels=[0, 1]),
        "precision": skm.precision_score(y, predicted, zero_division=0),
        "recall": skm.recall_score(y, predicted, zero_division=0),
        "brier": skm.brier_score_loss(y, probability),
    }
    return {name: round(float(value), 6) for name, value in values.items()} | {"n_test": len(y)}


def curves(
    y: np.ndarray, probability: np.ndarray, params: EvaluateParams
) -> dict[str, pd.DataFrame]:
    """Tables for `dvc plots`: ROC, precision-recall, calibration, confusion (four counts)."""
    fpr, tpr, _ = skm.roc_curve(y, probability)
    precision, recall, _ = skm.precision_recall_curve(y, probability)
    observed, predicted = calibration_curve(y, probability, n_bins=params.calibration_bins)
    return {
        "roc": _thin(pd.DataFrame({"fpr": fpr, "tpr": tpr})),
        "precision_recall": _thin(pd.DataFrame({"recall": recall, "precision": precision})),
        "calibration": pd.DataFrame({"mean_predicted": predicted, "fraction_positive": observed}),
        "confusion": confusion_counts(y, probability >= params.threshold),
    }


def confusion_counts(y: np.ndarray, predicted: np.ndarray) -> pd.DataFrame:
    """One row per (actual, predicted) cell with its count, all four cells always present."""
    cells = [(actual, guess) for actual in (0, 1) for guess in (0, 1)]
    counts = [int(np.sum((y == actual) & (predicted == guess))) for actual, guess in cells]
    return pd.DataFrame(
        {
            "cell": [f"actual {actual}, predicted {guess}" for actual, guess in cells],
            "actual": [actual for actual, _ in cells],
            "predicted": [guess for _, guess in cells],
            "count": counts,
        }
    )


def cost(bundle: Bundle) -> dict[str, Any]:
    """What the model costs that is the same on every machine: its files' bytes."""
    artifacts = bundle.manifest["artifacts"].values()
    return {"model_bytes": sum(int(entry["bytes"]) for entry in artifacts)}


def permutation_importance(
    bundle: Bundle, frame: pd.DataFrame, y: np.ndarray, params: ImportanceParams, seed: int
) -> dict[str, dict[str, float]]:
    """Drop in score when one raw input column is shuffled, mean and std over repeats."""
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(frame), size=min(params.sample, len(frame)), replace=False)
    frame, y = frame.iloc[rows].reset_index(drop=True), y[rows]
    score = SCORERS[params.scoring]
    baseline = score(y, bundle.predict_proba(frame))
    result = {}
    for column in bundle.features:
        drops = [
            baseline - score(y, bundle.predict_proba(_shuffled(frame, column, rng)))
            for _ in range(params.n_repeats)
        ]
        result[column] = {
            "mean": round(float(np.mean(drops)), 6),
            "std": round(float(np.std(drops)), 6),
        }
    return dict(sorted(result.items(), key=lambda item: -item[1]["mean"]))


def run(params: Params) -> dict[str, float]:
    bundle, test = load_bundle(BUNDLE), read_parquet(SPLIT / "test.parquet")
    y, probability = target_vector(test, params.dataset), bundle.predict_proba(test)
    metrics = compute_metrics(y, probability, params.evaluate.threshold)
    write_json(REPORTS / "metrics.json", metrics)
    write_parquet(PREDICTIONS, pd.DataFrame({"y_true": y, "y_prob": probability}))
    write_curves(curves(y, probability, params.evaluate), REPORTS)
    write_json(REPORTS / "cost.json", cost(bundle))
    importance = permutation_importance(
        bundle, test, y, params.evaluate.importance, params.featurize.seed
    )
    write_json(REPORTS / "importance.json", importance)
    write_with(REPORTS / "figures" / "importance.png", lambda p: plots.importance(importance, p))
    return metrics


def write_curves(tables: dict[str, pd.DataFrame], reports: Path) -> None:
    for name, table in tables.items():
        write_with(reports / "plots" / f"{name}.csv", lambda p, t=table: t.to_csv(p, index=False))
        write_with(
            reports / "figures" / f"{name}.png", lambda p, n=name, t=table: plots.curve(n, t, p)
        )


def _thin(table: pd.DataFrame) -> pd.DataFrame:
    """Keep at most MAX_CURVE_POINTS evenly spaced rows, always the first and the last."""
    if len(table) <= MAX_CURVE_POINTS:
        return table.round(6)
    keep = np.unique(np.linspace(0, len(table) - 1, MAX_CURVE_POINTS).round().astype(int))
    return table.iloc[keep].reset_index(drop=True).round(6)


def _shuffled(frame: pd.DataFrame, column: str, rng: np.random.Generator) -> pd.DataFrame:
    shuffled = frame.copy()
    shuffled[column] = rng.permutation(shuffled[column].to_numpy())
    return shuffled


def main(params: Params) -> dict[str, float]:
    return run(params)
