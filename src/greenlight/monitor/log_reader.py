"""Read the service's prediction log (`logformat.LoggedPrediction`, docs/prediction-log.md) into
a data frame: the logged features, checked against the model's, plus the reader's columns. The
log at `logs/predictions.jsonl` is rotated into `predictions.jsonl.1`, `.2`, ...: all are read.
A line that breaks the format stops the run with its file and line number: a monitor that skips
what it cannot read would report on traffic it never saw."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from greenlight.logformat import LoggedPrediction
from greenlight.monitor.errors import MissingLogError, SchemaMismatchError

# Columns the reader adds beside the features; dunder names cannot clash with a dataset column.
TIMESTAMP = "__timestamp__"
VERSION = "__model_version__"
LABEL = "__label__"
PROBABILITY = "__probability__"
WHERE = "__where__"  # "file:line", so a value found wrong later still names its line
REQUEST_ID = "__request_id__"
RECORD = "__record__"  # the line's 0-based position within its request (`with_record_numbers`)


def log_files(path: Path) -> list[Path]:
    """`path` and its rotated siblings `path.1`, `path.2`...; MissingLogError if there are none."""
    pattern = re.compile(rf"^{re.escape(path.name)}(\.\d+)?$")
    found = sorted(p for p in path.parent.glob(f"{path.name}*") if pattern.match(p.name))
    if not found:
        raise MissingLogError(
            f"no prediction log at {path} (nor rotated {path.name}.N): fetch it first "
            "(`make drift-fetch`, from drift.source in params.yaml) or pass --log"
        )
    return found


def read_log(path: Path, features: Sequence[str]) -> pd.DataFrame:
    """Every record of every log file: the feature columns plus the reader's own columns."""
    rows = [row for file in log_files(path) for row in _file_rows(file, frozenset(features))]
    frame = pd.DataFrame.from_records(
        rows, columns=[*features, TIMESTAMP, VERSION, LABEL, PROBABILITY, WHERE, REQUEST_ID]
    )
    frame[TIMESTAMP] = pd.to_datetime(frame[TIMESTAMP], utc=True, format="ISO8601")
    return frame


def _file_rows(file: Path, features: frozenset[str]) -> Iterator[dict[str, Any]]:
    with file.open(encoding="utf-8") as lines:
        for number, text in enumerate(lines, start=1):
            if not text.endswith("\n"):
                return  # the live file's last line, still being written (docs/prediction-log.md)
            if text.strip():
                yield parse_line(text, f"{file}:{number}", features)


def parse_line(text: str, where: str, features: frozenset[str]) -> dict[str, Any]:
    """One log line as a flat row; LogFormatError or SchemaMismatchError naming `where`."""
    prediction = LoggedPrediction.parse(text, where)
    row = _features(prediction.features, where, features)
    row.update({TIMESTAMP: prediction.timestamp, LABEL: prediction.label, WHERE: where})
    row.update({VERSION: prediction.model_version, PROBABILITY: prediction.probability})
    row[REQUEST_ID] = prediction.request_id
    return row


def _features(values: dict[str, Any], where: str, expected: frozenset[str]) -> dict[str, Any]:
    if values.keys() != expected:
        missing, unexpected = sorted(expected - values.keys()), sorted(values.keys() - expected)
        # Names only, never values: an unexpected column may be a sensitive attribute.
        raise SchemaMismatchError(
            f"{where}: the logged features do not match the model's: "
            f"missing {missing}, unexpected {unexpected}"
        )
    return dict(values)


def with_record_numbers(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with RECORD: each line's position within its request, counted in the order the
    service wrote the request's lines (oldest file first: `.2` before `.1` before the live file,
    then by line), since a batch may straddle a rotation."""
    file_and_line = frame[WHERE].str.rsplit(":", n=1)
    rotation = file_and_line.str[0].str.extract(r"\.(\d+)$")[0].fillna("0").astype(int)
    order = pd.DataFrame({"age": -rotation, "line": file_and_line.str[1].astype(int)})
    written = frame.loc[order.sort_values(["age", "line"], kind="stable").index]
    numbers = written.groupby(REQUEST_ID, sort=False).cumcount()
    return frame.assign(**{RECORD: numbers.reindex(frame.index).astype(int)})


def check_types(frame: pd.DataFrame, numeric: Sequence[str], categorical: Sequence[str]) -> None:
    """Numbers where the contract has numbers, strings where it has categories (null allowed);
    SchemaMismatchError names the column and the first line that breaks it."""
    for column in numeric:
        values = frame[column]
        wrong = values.notna() & pd.to_numeric(values, errors="coerce").isna()
        wrong |= values.map(lambda value: isinstance(value, bool))
        _raise_on_first(frame, wrong, f"feature {column!r} must be a number or null")
    for column in categorical:
        wrong = frame[column].map(lambda value: value is not None and not isinstance(value, str))
        _raise_on_first(frame, wrong, f"feature {column!r} must be a string or null")


def _raise_on_first(frame: pd.DataFrame, wrong: pd.Series, problem: str) -> None:
    if wrong.any():
        first = frame.loc[wrong.idxmax(), WHERE]
        raise SchemaMismatchError(f"{first}: {problem} ({int(wrong.sum()):,} line(s) break it)")
