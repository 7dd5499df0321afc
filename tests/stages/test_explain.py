"""The explain stage: mean absolute contributions overall and per group, groups too small to judge
shown by count only, and the cost of one explanation (in its own record, not in the report)."""

from __future__ import annotations

import json

import pandas as pd

from conftest import PipelineRun
from greenlight.artifacts import load_bundle
from greenlight.stages import explain


def test_by_group_means_and_too_small_groups_by_hand() -> None:
    values = pd.DataFrame({"age": [1.0, -3.0, 2.0, 0.5], "hours": [0.0, 1.0, -1.0, 4.0]})
    groups = pd.Series(["a", "a", "a", "b"])
    result = explain.by_group(values, groups, minimum=2)
    assert result["a"] == {"count": 3, "mean_abs": {"age": 2.0, "hours": 0.666667}}
    assert result["b"] == {"count": 1, "too_small": True}
    assert list(explain.mean_abs(values)) == ["age", "hours"]  # largest first


def test_the_sample_is_seeded_and_keeps_the_split_order() -> None:
    test = pd.DataFrame({"row": range(100)})
    first, again = explain.sample(test, 10, seed=1), explain.sample(test, 10, seed=1)
    assert first["row"].tolist() == again["row"].tolist() == sorted(first["row"])
    assert len(explain.sample(test, 500, seed=1)) == 100


def test_explanations_report_of_the_sample_run(pipeline_run: PipelineRun) -> None:
    report = json.loads((pipeline_run.reports / "explanations.json").read_text())
    bundle = load_bundle(pipeline_run.bundle)
    assert report["units"] == "log-odds"
    assert report["method"].startswith("TreeSHAP (shap ")
    assert set(report["overall"]) == set(bundle.features)
    assert not {"sex", "race"} & set(report["overall"])
    race = report["groups"]["race"]
    assert race["Other"] == {"count": 7, "too_small": True}  # below fairness.min_group_count
    assert set(race["White"]["mean_abs"]) == set(bundle.features)
    assert sum(group["count"] for group in race.values()) == report["records"] == 1000
    assert "latency_ms" not in report  # a DVC output holds no timing: the same bytes every run
    timing = json.loads((pipeline_run.reports / "latency.json").read_text())
    assert timing["model_version"] == bundle.version
    latency = timing["latency_ms"]
    assert latency["predict_and_explain_one"] > latency["predict_one"] > 0
    assert (pipeline_run.reports / "explain" / "contributions.png").stat().st_size > 1000
