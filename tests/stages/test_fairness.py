"""The fairness stage: MetricFrame group metrics and differences, checked by hand."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from conftest import PipelineRun
from greenlight.stages import fairness

# group a: 4 records, 2 positive, predicted [1,1,0,0] -> selection 0.5, TPR 1.0, FPR 0.0
# group b: 4 records, 2 positive, predicted [1,0,0,0] -> selection 0.25, TPR 0.5, FPR 0.0
Y = np.array([1, 1, 0, 0, 1, 1, 0, 0])
PREDICTED = np.array([1, 1, 0, 0, 1, 0, 0, 0])
GROUPS = pd.Series(["a"] * 4 + ["b"] * 4)


def test_group_table_by_hand() -> None:
    table = fairness.group_table(Y, PREDICTED, GROUPS)
    assert table["a"] == {
        "count": 4, "selection_rate": 0.5, "true_positive_rate": 1.0,
        "false_positive_rate": 0.0, "accuracy": 1.0,
    }  # fmt: skip
    assert table["b"]["selection_rate"] == 0.25
    assert table["b"]["true_positive_rate"] == 0.5
    assert table["b"]["accuracy"] == 0.75


def test_differences_against_thresholds() -> None:
    limits = {"demographic_parity_difference": 0.3, "equalized_odds_difference": 0.4}
    report = fairness.attribute_report(Y, PREDICTED, GROUPS, limits)
    assert report["demographic_parity_difference"] == 0.25
    assert report["equalized_odds_difference"] == 0.5  # TPR gap 0.5, FPR gap 0
    assert report["passed"] is False
    limits["equalized_odds_difference"] = 0.5
    assert fairness.attribute_report(Y, PREDICTED, GROUPS, limits)["passed"] is True


def test_an_undefined_rate_is_written_as_null_not_nan() -> None:
    assert fairness._number("true_positive_rate", float("nan")) is None
    assert fairness._number("count", 12.0) == 12
    assert json.dumps(fairness._number("accuracy", 0.1234567)) == "0.123457"


def test_report_has_one_top_level_key_per_sensitive_attribute(pipeline_run: PipelineRun) -> None:
    report = json.loads((pipeline_run.reports / "fairness.json").read_text())
    assert list(report) == list(pipeline_run.params.dataset.sensitive)
    assert set(report["sex"]["groups"]) == {"Female", "Male"}
    total = sum(group["count"] for group in report["race"]["groups"].values())
    assert total == 1000
    assert (pipeline_run.reports / "fairness" / "sex.png").is_file()
