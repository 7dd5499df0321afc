"""The fairness stage: MetricFrame group metrics and differences, checked by hand."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from conftest import PipelineRun
from greenlight.config import ConfidenceParams, FairnessParams
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


def judged(limits: dict[str, float], minimum: int = 1, **changes: object) -> FairnessParams:
    return FairnessParams(max_difference=limits, min_group_count=minimum, **changes)


def test_differences_against_thresholds() -> None:
    limits = {"demographic_parity_difference": 0.3, "equalized_odds_difference": 0.4}
    report = fairness.attribute_report(Y, PREDICTED, GROUPS, judged(limits))
    assert report["demographic_parity_difference"] == 0.25
    assert report["equalized_odds_difference"] == 0.5  # TPR gap 0.5, FPR gap 0
    assert report["passed"] is False
    limits["equalized_odds_difference"] = 0.5
    assert fairness.attribute_report(Y, PREDICTED, GROUPS, judged(limits))["passed"] is True


def test_a_group_below_the_minimum_is_counted_but_not_judged() -> None:
    """Group c (2 records, both predicted wrong) would make both gaps 1.0: it is too small."""
    y = np.concatenate([Y, [1, 0]])
    predicted = np.concatenate([PREDICTED, [0, 1]])
    groups = pd.Series([*GROUPS, "c", "c"])
    limits = {"demographic_parity_difference": 0.3, "equalized_odds_difference": 0.5}
    report = fairness.attribute_report(y, predicted, groups, judged(limits, minimum=3))
    assert report["groups"]["c"] == {"count": 2, "too_small": True}
    assert report["demographic_parity_difference"] == 0.25  # a and b only
    assert report["passed"] is True
    everyone = fairness.attribute_report(y, predicted, groups, judged(limits, minimum=1))
    assert everyone["equalized_odds_difference"] == 1.0
    assert everyone["passed"] is False


def test_with_one_group_left_to_judge_there_is_no_difference_and_no_pass() -> None:
    limits = {"demographic_parity_difference": 0.3}
    report = fairness.attribute_report(Y, PREDICTED, GROUPS, judged(limits, minimum=5))
    assert report["demographic_parity_difference"] is None
    assert report["interval"] == {}
    assert report["passed"] is False


def test_counted_differences_equal_fairlearns() -> None:
    rng = np.random.default_rng(3)
    y, predicted = rng.integers(0, 2, 3000), rng.integers(0, 2, 3000)
    groups = pd.Series(rng.choice(["a", "b", "c", "d"], 3000, p=[0.5, 0.3, 0.15, 0.05]))
    codes, names = pd.factorize(groups)
    counted = fairness.differences_from_counts(
        fairness.cell_counts(y, predicted, codes, len(names))
    )
    expected = fairness.differences(y, predicted, groups)
    for name, value in expected.items():
        assert float(counted[name]) == pytest.approx(value, abs=1e-6)


def test_bootstrap_intervals_are_seeded_and_narrow_with_more_records() -> None:
    rng = np.random.default_rng(4)
    confidence = ConfidenceParams(resamples=400, seed=7)

    def interval(rows: int) -> list[float]:
        y, predicted = rng.integers(0, 2, rows), rng.integers(0, 2, rows)
        groups = pd.Series(rng.choice(["a", "b"], rows))
        estimate = fairness.differences(y, predicted, groups)["demographic_parity_difference"]
        bounds = fairness.bootstrap_intervals(y, predicted, groups, confidence)
        again = fairness.bootstrap_intervals(y, predicted, groups, confidence)
        assert bounds == again
        low, high = bounds["demographic_parity_difference"]
        assert low <= estimate <= high
        return high - low

    assert interval(20_000) < interval(500) / 3


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
