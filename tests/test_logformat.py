"""The prediction log's one record: what the writer, readers, simulator and docs share."""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from greenlight.logformat import (
    FIELDS,
    LogFormatError,
    LoggedPrediction,
    logged_features,
    prediction_lines,
    stamp,
)

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


# What a record of the log may hold: tricky strings (quotes, backslashes, braces, the very
# `},{"age":` the batch writer splits on, non-ASCII), numbers and missing values; under column
# names that the writer can split on (the same first key in every record) and ones it cannot.
VALUES = st.one_of(
    st.none(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(['},{"age":1', '},{"age', '"', "\\", "}", "{", "é", "x,y", ":"]),
    st.text(max_size=8),
)
COLUMNS = st.sampled_from(
    [("age", 'o"c', "},{"), ('},{"age', "age"), ('"q', "x"), (":x", "y"), ("",), ("age",)]
)


def records_of(data: st.DataObject) -> list[dict[str, object]]:
    columns = data.draw(COLUMNS)
    count = data.draw(st.integers(0, 6))
    records = [{name: data.draw(VALUES) for name in columns} for _ in range(count)]
    if records and data.draw(st.booleans()):
        records[-1] = dict(reversed(records[-1].items()))  # another first key: one by one
    return records


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_a_request_s_lines_are_its_records_lines_whatever_they_hold(data: st.DataObject) -> None:
    records = records_of(data)
    labels = [data.draw(st.sampled_from([">50K", '<="50K\\'])) for _ in records]
    probabilities = [data.draw(st.floats(0, 1)) for _ in records]
    expected = [
        a_prediction(features=row, label=label, probability=value).line()
        for row, label, value in zip(records, labels, probabilities, strict=True)
    ]
    base = a_prediction()
    lines = prediction_lines(
        base.timestamp, base.request_id, base.model_version, records, (labels, probabilities)
    )
    assert lines == expected


def test_a_request_with_a_nan_is_refused_like_its_record() -> None:
    with pytest.raises(ValueError, match="not JSON compliant"):
        prediction_lines("t", "r", "v", [{"age": 1}, {"age": 2}], (["a", "b"], [0.5, math.nan]))
    with pytest.raises(ValueError, match="not JSON compliant"):
        prediction_lines("t", "r", "v", [{"age": math.inf}], (["a"], [0.5]))
