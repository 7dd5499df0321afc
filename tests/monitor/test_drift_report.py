"""The JSON and Markdown reports from a hand-made result: no Evidently needed."""

from __future__ import annotations

import json
import math

from greenlight.monitor.drift import ALL_MISSING, ColumnDrift, DriftResult
from greenlight.monitor.report import drift_json, drift_markdown, verdict

CONTEXT = {
    "model_version": "abc123",
    "bundle_model_version": "abc123",
    "window": {
        "description": "the last 7 days",
        "rows": 1200,
        "sampled": 1200,
        "first_prediction": "2025-02-22T12:00:00+00:00",
        "last_prediction": "2025-03-01T11:00:00+00:00",
    },
    "reference": {"path": "artifacts/split/train.parquet", "rows": 26048, "sampled": 26048},
    "prediction": {"positive_label": ">50K", "positive_share": {"reference": 0.2, "current": 0.31}},
}


def result(drift_share: float = 0.15) -> DriftResult:
    features = (
        ColumnDrift("age", "ks", 0.31, 1e-40, True, (0.0, 0.0)),
        ColumnDrift("fnlwgt", "ks", 0.02, 0.4, False, (0.0, 0.0)),
        ColumnDrift("native_country", "chi2_two_sample", math.inf, 0.0, True, (0.02, 0.0)),
        ColumnDrift("occupation", ALL_MISSING, None, None, True, (0.06, 1.0)),
    )
    prediction = ColumnDrift("predicted_income", "chi2_two_sample", 55.0, 1e-13, True, (0.0, 0.0))
    return DriftResult(features, prediction, p_value=0.01, drift_share=drift_share)


def test_the_verdict_compares_the_share_of_drifted_features_with_the_threshold():
    assert result().share == 0.75
    assert verdict(result(drift_share=0.75)) == "drift"
    assert verdict(result(drift_share=0.8)) == "no drift"


def test_json_has_per_feature_test_statistic_p_value_drifted_and_is_strict_json():
    report = drift_json(result(), CONTEXT)
    text = json.dumps(report, allow_nan=False)  # raises on NaN or infinity
    assert json.loads(text)["verdict"] == "drift"
    age = report["features"]["age"]
    assert (age["test"], age["test_name"], age["statistic"], age["p_value"], age["drifted"]) == (
        "ks",
        "Kolmogorov-Smirnov",
        0.31,
        1e-40,
        True,
    )
    assert report["features"]["native_country"]["statistic"] is None  # infinite: no JSON number
    assert report["features"]["occupation"]["missing_share"] == {"reference": 0.06, "current": 1.0}
    assert report["drifted_features"] == ["age", "native_country", "occupation"]
    assert report["prediction"]["positive_share"]["current"] == 0.31
    assert report["model_version"] == "abc123" and report["format"] == 1


def test_markdown_leads_with_the_verdict_and_lists_drifted_features_first():
    text = drift_markdown(result(), CONTEXT)
    lines = text.splitlines()
    assert lines[0] == "## Drift detected in production traffic (model `abc123`)"
    assert (
        "**3 of 4 features drifted** (75%, threshold 15%): `age`, `native_country`, `occupation`"
        in text
    )
    assert "31.0% `>50K` in the traffic against 20.0%" in text and "drifted" in text
    assert "the last 7 days, 1,200 predictions" in text
    rows = [line for line in lines if line.startswith("| `")]
    assert [row.split("|")[1].strip() for row in rows] == [
        "`occupation`",
        "`native_country`",
        "`age`",
        "`fnlwgt`",
    ]
    assert (
        "| `occupation` | none: every value is missing on one side | n/a | n/a | **yes** |" in text
    )


def test_markdown_says_no_drift_when_below_the_threshold():
    assert drift_markdown(result(drift_share=0.9), CONTEXT).startswith("## No drift in production")


def test_markdown_notes_what_other_model_versions_were_left_out():
    assert "model version" not in drift_markdown(result(), CONTEXT).split("|")[0].lower()
    context = {**CONTEXT, "other_model_versions_left_out": {"old789": 120}}
    text = drift_markdown(result(), context)
    assert "Predictions of other model versions left out: `old789` (120)." in text
