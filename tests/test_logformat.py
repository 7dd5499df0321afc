"""The prediction log's one record: what the writer, readers, simulator and docs share."""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from greenlight.logformat import FIELDS, LogFormatError, LoggedPrediction, logged_features, stamp

DOC = Path(__file__).parents[1] / "docs" / "prediction-log.md"


def a_prediction(**changes: object) -> LoggedPrediction:
    values = {
        "timestamp": stamp(datetime(2026, 12, 4, 1, 2, 3, 456, tzinfo=UTC)),
        "request_id": "0f" * 16,
        "model_version": "v1",
        "features": {"age": 37, "occupation": None},
        "label": ">50K",
        "probability": 0.75,
    }
    return LoggedPrediction(**{**values, **changes})


def test_a_line_reads_back_as_the_same_record() -> None:
    original = a_prediction()
    line = original.line()
    assert line.endswith("\n") and line.count("\n") == 1
    assert LoggedPrediction.parse(line, "here") == original
    assert list(json.loads(line)) == list(FIELDS)


def test_the_documented_example_line_is_what_the_writer_writes() -> None:
    example = re.search(r"```json\n(\{.*\})\n```", DOC.read_text()).group(1)
    assert LoggedPrediction.parse(example, "docs").line() == example + "\n"


def test_timestamps_are_utc_with_a_z_whatever_zone_they_were_made_in() -> None:
    local = datetime(2026, 12, 4, 3, 0, tzinfo=timezone(timedelta(hours=2)))
    assert stamp(local) == "2026-12-04T01:00:00.000000Z"
    assert a_prediction(timestamp=stamp(local)).time == local


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_a_probability_json_cannot_hold_is_refused_when_written(bad: float) -> None:
    with pytest.raises(ValueError, match="JSON compliant"):
        a_prediction(probability=bad).line()


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("[1]", "expected a JSON object"),
        ('{"log_format": 2}', "log_format 2 is not supported"),
        ('{"log_format": 1}', r"missing field\(s\)"),
        (a_prediction(timestamp="2026-12-04T01:00:00").line(), "not an ISO 8601 time with a zone"),
        (a_prediction(features=[1]).line(), "`features` must be an object"),
    ],
)
def test_a_line_that_is_not_a_prediction_names_where_and_why(line: str, problem: str) -> None:
    with pytest.raises(LogFormatError, match=rf"^log:7: .*{problem}"):
        LoggedPrediction.parse(line, "log:7")


def test_sensitive_columns_are_never_logged_features() -> None:
    kept = logged_features(["age", "sex", "race", "occupation"], {"sex", "race"})
    assert kept == ("age", "occupation")
