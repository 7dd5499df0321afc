"""The evaluate stage: metrics equal scikit-learn's, curves are thin, importance finds signal."""

from __future__ import annotations

import json
from typing import get_args

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from conftest import PipelineRun
from greenlight.artifacts import load_bundle
from greenlight.config import EvaluateParams, ImportanceParams, MetricName
from greenlight.features import target_vector
from greenlight.stages import evaluate

Y = np.array([0, 0, 1, 1, 1, 0, 1, 0])
P = np.array([0.1, 0.6, 0.8, 0.4, 0.9, 0.2, 0.7, 0.3])


def test_metrics_at_the_threshold() -> None:
    metrics = evaluate.compute_metrics(Y, P, threshold=0.5)
    assert metrics["accuracy"] == 0.75  # 0.6 is a false positive, 0.4 a false negative
    assert metrics["precision"] == 0.75
    assert metrics["recall"] == 0.75
    assert metrics["roc_auc"] == round(skm.roc_auc_score(Y, P), 6)
    assert metrics["log_loss"] == round(skm.log_loss(Y, P), 6)
    assert metrics["n_test"] == 8
    assert evaluate.compute_metrics(Y, P, threshold=0.35)["recall"] == 1.0


def test_curve_tables_have_the_columns_dvc_plots_reads() -> None:
    tables = evaluate.curves(Y, P, EvaluateParams(calibration_bins=2))
    assert list(tables["roc"].columns) == ["fpr", "tpr"]
    assert list(tables["precision_recall"].columns) == ["recall", "precision"]
    assert list(tables["calibration"].columns) == ["mean_predicted", "fraction_positive"]
    # four counts, not a row per record: 0.6 is a false positive, 0.4 a false negative
    cells = tables["confusion"][["actual", "predicted", "count"]].to_numpy().tolist()
    assert cells == [[0, 0, 3], [0, 1, 1], [1, 0, 1], [1, 1, 3]]


def test_cost_is_the_bundles_bytes_and_holds_no_timing(pipeline_run: PipelineRun) -> None:
    """A DVC output is the same bytes on every run: the model's size, not how long it took."""
    cost = json.loads((pipeline_run.reports / "cost.json").read_text())
    manifest = json.loads((pipeline_run.bundle / "manifest.json").read_text())
    assert cost == {"model_bytes": sum(entry["bytes"] for entry in manifest["artifacts"].values())}
    record = json.loads((pipeline_run.reports / "provenance.json").read_text())
    assert record["model_version"] == manifest["model_version"]
    assert record["training"]["seconds"] > 0  # the training time lives in the run's record


def test_long_curves_are_thinned_keeping_both_ends() -> None:
    table = pd.DataFrame({"x": np.linspace(0, 1, 5000), "y": np.linspace(0, 1, 5000) ** 2})
    thin = evaluate._thin(table)
    assert len(thin) == evaluate.MAX_CURVE_POINTS
    assert thin.iloc[0].tolist() == [0.0, 0.0]
    assert thin.iloc[-1].tolist() == [1.0, 1.0]


def test_permutation_importance_ranks_informative_columns_first(pipeline_run: PipelineRun) -> None:
    bundle = load_bundle(pipeline_run.bundle)
    test = pd.read_parquet(pipeline_run.split / "test.parquet")
    y = target_vector(test, pipeline_run.params.dataset)
    result = evaluate.permutation_importance(
        bundle, test, y, ImportanceParams(n_repeats=2, sample=500), seed=0
    )
    assert list(result) == sorted(result, key=lambda name: -result[name]["mean"])
    assert set(result) == set(bundle.features)
    top = list(result)[:4]
    assert {"relationship", "marital_status", "capital_gain", "education_num", "age"} & set(top)
    assert result[top[0]]["mean"] > 0.01


def test_committed_plots_match_the_dvc_yaml_declarations(pipeline_run: PipelineRun) -> None:
    plots = pipeline_run.reports / "plots"
    assert sorted(p.name for p in plots.iterdir()) == [
        "calibration.csv", "confusion.csv", "precision_recall.csv", "roc.csv",
    ]  # fmt: skip
    roc = pd.read_csv(plots / "roc.csv")
    assert roc["fpr"].is_monotonic_increasing
    assert (roc.iloc[0].tolist(), roc.iloc[-1].tolist()) == ([0.0, 0.0], [1.0, 1.0])


def test_every_metric_written_is_one_a_gate_can_bound() -> None:
    """gate.min/gate.max accept exactly the names compute_metrics writes (MetricName)."""
    assert set(evaluate.compute_metrics(Y, P, threshold=0.5)) == set(get_args(MetricName))
