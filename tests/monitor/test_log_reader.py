from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from drift_fixtures import log_of_fixture, sample_fixture  # noqa: F401

from greenlight.logformat import LogFormatError, LoggedPrediction
from greenlight.monitor.errors import MissingLogError, SchemaMismatchError
from greenlight.monitor.log_reader import (
    LABEL,
    PROBABILITY,
    TIMESTAMP,
    VERSION,
    WHERE,
    check_types,
    log_files,
    read_log,
)

FEATURES = ("age", "occupation")


def record(**changes: object) -> dict:
    base = {
        "log_format": 1,
        "timestamp": "2025-03-01T10:00:00.000000Z",
        "request_id": "ab12",
        "model_version": "v1",
        "features": {"age": 37, "occupation": "Sales"},
        "prediction": {"label": "<=50K", "probability": 0.12},
    }
    return {**base, **changes}


def write(path: Path, *lines: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = [line if isinstance(line, str) else json.dumps(line) for line in lines]
    path.write_text("\n".join(text) + "\n")
    return path


def test_reads_the_log_and_its_rotated_files_but_not_the_lock(tmp_path):
    log = write(tmp_path / "predictions.jsonl", record(), "", record(request_id="cd"))
    write(tmp_path / "predictions.jsonl.1", record(timestamp="2025-03-01T09:00:00+00:00"))
    write(tmp_path / "predictions.jsonl.2", record(model_version="v0"))
    write(tmp_path / ".predictions.jsonl.lock", "not a log line")
    write(tmp_path / "predictions.jsonl.tmp", "not a log line either")
    assert [path.name for path in log_files(log)] == [
        "predictions.jsonl",
        "predictions.jsonl.1",
        "predictions.jsonl.2",
    ]
    frame = read_log(log, FEATURES)
    assert len(frame) == 4
    assert list(frame.columns[:2]) == list(FEATURES)
    assert str(frame[TIMESTAMP].dt.tz) == "UTC"
    assert sorted(frame[VERSION]) == ["v0", "v1", "v1", "v1"]
    assert set(frame[LABEL]) == {"<=50K"}
    assert frame[PROBABILITY].iloc[0] == pytest.approx(0.12)
    assert frame[WHERE].iloc[1] == f"{log}:3"  # the blank line 2 is skipped, not renumbered


def test_a_final_line_still_being_written_is_left_for_the_next_read(tmp_path):
    log = write(tmp_path / "predictions.jsonl", record(), record(request_id="cd"))
    with log.open("a") as stream:
        stream.write(json.dumps(record(request_id="ef"))[:40])  # no newline yet
    assert len(read_log(log, FEATURES)) == 2


def test_a_missing_log_says_where_it_looked_and_how_to_fetch_it(tmp_path):
    with pytest.raises(
        MissingLogError, match=r"no prediction log at .*predictions\.jsonl.*drift-fetch"
    ):
        read_log(tmp_path / "logs" / "predictions.jsonl", FEATURES)


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        (record(log_format=2), "log_format 2 is not supported"),
        (
            {k: v for k, v in record().items() if k != "prediction"},
            r"missing field\(s\) \['prediction'\]",
        ),
        (
            {k: v for k, v in record().items() if k != "log_format"},
            r"missing field\(s\) \['log_format'\]",
        ),
        (record(timestamp="2025-03-01T10:00:00"), "not an ISO 8601 time with a zone"),
        (record(timestamp="yesterday"), "not an ISO 8601 time with a zone"),
        (record(prediction={"label": 1, "probability": 0.2}), "label must be a string"),
        (record(prediction={"label": "x", "probability": "high"}), "probability must be a number"),
        (record(features=[37, "Sales"]), "`features` must be an object"),
    ],
)
def test_a_bad_line_names_its_file_and_line(tmp_path, line, problem):
    log = write(tmp_path / "predictions.jsonl", record(), line)
    with pytest.raises(LogFormatError, match=rf"predictions\.jsonl:2: .*{problem}"):
        read_log(log, FEATURES)


def test_features_that_do_not_match_the_model_are_a_schema_mismatch(tmp_path):
    extra = record(features={"age": 37, "occupation": "Sales", "sex": "Female"})
    log = write(tmp_path / "predictions.jsonl", extra)
    with pytest.raises(SchemaMismatchError) as raised:
        read_log(log, FEATURES)
    message = str(raised.value)
    assert ":1:" in message and "unexpected ['sex']" in message
    assert "Female" not in message  # names only: a sensitive value never reaches a log or report
    missing = write(tmp_path / "b" / "predictions.jsonl", record(features={"age": 37}))
    with pytest.raises(SchemaMismatchError, match=r"missing \['occupation'\]"):
        read_log(missing, FEATURES)


def test_wrong_value_types_name_the_column_and_the_first_line():
    frame = pd.DataFrame(
        {
            "age": [37, None, "forty", True],
            "occupation": ["Sales", None, "Sales", "Sales"],
            WHERE: ["f:1", "f:2", "f:3", "f:4"],
        }
    )
    with pytest.raises(SchemaMismatchError, match=r"f:3: feature 'age' must be a number.*2 line"):
        check_types(frame, ["age"], ["occupation"])
    frame["age"] = [37, None, 40.5, 41]
    check_types(frame, ["age"], ["occupation"])
    frame["occupation"] = ["Sales", 7, None, "Sales"]
    with pytest.raises(SchemaMismatchError, match=r"f:2: feature 'occupation' must be a string"):
        check_types(frame, ["age"], ["occupation"])


def test_the_simulated_logs_are_the_documented_dialect(log_of, sample) -> None:
    """The drift tests and benchmarks read what the service writes: `Z` times, 32-hex ids."""
    log = log_of(sample.test.head(5))
    lines = log.read_text().splitlines()
    parsed = [LoggedPrediction.parse(line, f"{log}:{n}") for n, line in enumerate(lines, 1)]
    assert len(parsed) == 5 and all(p.timestamp.endswith("Z") for p in parsed)
    assert all(re.fullmatch(r"[0-9a-f]{32}", p.request_id) for p in parsed)
    assert all(p.line() == line + "\n" for p, line in zip(parsed, lines, strict=True))
