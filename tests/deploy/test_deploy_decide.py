"""The split's promotion decision (pure), each rule with its numbers, and the per-variant figures
it is fed from: HAProxy's request lines, the fairness gap, the Prometheus text."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from scipy.stats import norm

from greenlight.deploy.decide import VariantCounts, decide, two_proportion_z
from greenlight.deploy.settings import SplitSettings
from greenlight.deploy.split import prometheus_text
from greenlight.deploy.variants import Latency, VariantFigures, fairness_gap, request_lines

SETTINGS = SplitSettings(min_samples=100, alpha=0.05, max_fairness_regression=0.05)


def test_the_z_test_matches_the_textbook_figures() -> None:
    # 45/100 against 30/100: pooled 0.375, standard error 0.06847, z 2.191, p 0.0285
    test = two_proportion_z(VariantCounts(100, 45), VariantCounts(100, 30))
    assert test.z == pytest.approx(2.1909, abs=1e-4)
    assert test.p_value == pytest.approx(2 * norm.sf(2.1909), abs=1e-4)
    assert test.p_value == pytest.approx(0.0285, abs=1e-4)


def test_too_few_samples_on_either_variant_keeps_splitting_whatever_the_rates() -> None:
    verdict = decide(VariantCounts(99, 99), VariantCounts(5000, 0), SETTINGS, elapsed_s=10)
    assert (verdict.action, verdict.rule) == ("keep", "min_samples")
    assert "99 labelled predictions" in verdict.reason
    verdict = decide(VariantCounts(500, 0), VariantCounts(50, 50), SETTINGS, elapsed_s=10)
    assert (verdict.action, verdict.rule) == ("keep", "min_samples")


def test_a_fairness_regression_rolls_back_even_a_more_accurate_candidate() -> None:
    candidate = VariantCounts(400, 320, fairness_gap=0.20)
    live = VariantCounts(1600, 1000, fairness_gap=0.10)
    verdict = decide(candidate, live, SETTINGS, elapsed_s=10)
    assert (verdict.action, verdict.rule) == ("rollback", "fairness")
    assert verdict.numbers["fairness_regression"] == pytest.approx(0.10)
    assert "z" not in verdict.numbers  # the z-test never ran


def test_a_fairness_change_within_the_limit_goes_on_to_the_z_test() -> None:
    candidate = VariantCounts(400, 320, fairness_gap=0.13)
    live = VariantCounts(1600, 1000, fairness_gap=0.10)
    verdict = decide(candidate, live, SETTINGS, elapsed_s=10)
    assert (verdict.action, verdict.rule) == ("promote", "significance")
    assert verdict.numbers["fairness_regression"] == pytest.approx(0.03)
    # without a gap on one side (no sensitive store) there is no fairness rule
    unmeasured = decide(VariantCounts(400, 320, 0.9), VariantCounts(1600, 1000), SETTINGS, 10)
    assert unmeasured.rule == "significance" and "fairness_regression" not in unmeasured.numbers


def test_a_significantly_worse_candidate_is_rolled_back_with_its_numbers() -> None:
    # the prototype's split: 389 of 2,000 on the candidate
    candidate, live = VariantCounts(389, 150), VariantCounts(1611, 1300)
    verdict = decide(candidate, live, SETTINGS, elapsed_s=42.0)
    expected = (150 / 389 - 1300 / 1611) / math.sqrt(
        (1450 / 2000) * (550 / 2000) * (1 / 389 + 1 / 1611)
    )
    assert (verdict.action, verdict.rule) == ("rollback", "significance")
    assert verdict.numbers["z"] == pytest.approx(expected, abs=1e-3)
    assert verdict.numbers["z"] < -15
    assert verdict.numbers["candidate_rate"] == pytest.approx(150 / 389, abs=1e-6)
    assert verdict.numbers["candidate_samples"] == 389 and verdict.numbers["live_samples"] == 1611
    assert verdict.numbers["elapsed_s"] == 42.0 and verdict.numbers["alpha"] == 0.05


def test_a_significantly_better_candidate_is_promoted() -> None:
    verdict = decide(VariantCounts(400, 300), VariantCounts(1600, 1040), SETTINGS, 10)
    assert (verdict.action, verdict.rule) == ("promote", "significance")
    assert verdict.numbers["z"] > 0 and verdict.numbers["p_value"] < 0.05


def test_no_significant_difference_keeps_splitting_until_the_maximum_duration() -> None:
    candidate, live = VariantCounts(400, 262), VariantCounts(1600, 1040)  # 0.655 vs 0.65
    assert decide(candidate, live, SETTINGS, elapsed_s=1e6).action == "keep"  # no limit set
    limited = SETTINGS.model_copy(update={"max_duration_s": 3600.0})
    assert decide(candidate, live, limited, elapsed_s=3599).action == "keep"
    verdict = decide(candidate, live, limited, elapsed_s=3600)
    assert (verdict.action, verdict.rule) == ("promote", "max_duration")


def test_no_variance_is_no_difference() -> None:
    test = two_proportion_z(VariantCounts(200, 200), VariantCounts(300, 300))
    assert (test.z, test.p_value) == (0.0, 1.0)
    assert decide(VariantCounts(200, 200), VariantCounts(300, 300), SETTINGS, 1).action == "keep"


def figures(color: str, role: str, **values: object) -> VariantFigures:
    defaults: dict[str, object] = {
        "version": f"v-{color}", "traffic": Latency(10, 1, {"p50": 2.0, "p95": 9.5, "p99": None}),
        "predictions": 10, "positive_rate": 0.3, "outcomes": 8, "accuracy": 0.75,
        "positive_outcome_rate": 0.25, "correct": 6, "positive_outcomes": 2,
    }  # fmt: skip
    return VariantFigures(color=color, role=role, **{**defaults, **values})  # type: ignore[arg-type]


def test_the_metric_chooses_what_the_test_counts() -> None:
    one = figures("green", "candidate")
    assert one.counts(SplitSettings()) == VariantCounts(8, 6, None)
    assert one.counts(SplitSettings(metric="positive_outcome")) == VariantCounts(8, 2, None)


def test_the_fairness_gap_is_the_largest_difference_of_any_attribute() -> None:
    assert fairness_gap(None) is None
    assert fairness_gap({"a": {"demographic_parity_difference": None}}) is None
    rows = {
        "a": {"demographic_parity_difference": 0.1, "equalized_odds_difference": 0.3},
        "b": {"demographic_parity_difference": 0.2, "equalized_odds_difference": None},
    }
    assert fairness_gap(rows) == 0.3


def test_request_lines_are_counted_per_color_after_the_offset(tmp_path: Path) -> None:
    log = tmp_path / "haproxy.log"
    before = "greenlight-request blue 200 1\n"
    log.write_text(
        before + "[NOTICE] started\n"
        "greenlight-request blue 200 4\ngreenlight-request green 503 10\n"
        "greenlight-request green 200 2\ngreenlight-request blue 200 6\n"
        "greenlight-request <NOSRV> 503 0\n"
    )
    counted = request_lines(log, offset=len(before))
    assert (counted["blue"].requests, counted["blue"].errors) == (2, 0)
    assert (counted["green"].requests, counted["green"].errors) == (2, 1)
    assert counted["blue"].percentiles_ms["p50"] == 5.0
    assert request_lines(tmp_path / "none.log", 0) == {}
    assert request_lines(log, offset=10**9)["blue"].requests == 3  # a new, shorter log: all of it


def test_the_prometheus_text_parses_and_leaves_out_what_was_not_measured() -> None:
    text = prometheus_text(
        {"blue": figures("blue", "live"), "green": figures("green", "candidate", accuracy=None)}
    )
    samples = {
        (sample.name, sample.labels["color"], sample.labels.get("quantile")): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    assert samples[("greenlight_variant_requests_total", "blue", None)] == 10
    assert samples[("greenlight_variant_accuracy", "blue", None)] == 0.75
    assert ("greenlight_variant_accuracy", "green", None) not in samples
    assert samples[("greenlight_variant_latency_ms", "green", "p95")] == 9.5
    assert ("greenlight_variant_latency_ms", "green", "p99") not in samples
    assert ("greenlight_variant_fairness_gap", "blue", None) not in samples
