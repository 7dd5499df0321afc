"""Read the service's prediction log, format 1: JSON Lines, one object per predicted record,

    {"log_format": 1, "timestamp": "<ISO 8601 UTC>", "request_id": "<hex>",
     "model_version": "<str>", "features": {<column>: <value or null>, ...},
     "prediction": {"label": "<str>", "probability": <float>}}

`features` are the model's feature columns without the sensitive ones. The log at
`logs/predictions.jsonl` is rotated by size into `predictions.jsonl.1`, `.2`, ...: all are read.
A line that breaks the format stops the run with its file and line number: a monitor that skips
what it cannot read would report on traffic it never saw."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from greenlight.logformat import FIELDS, LOG_FORMAT, json_object
from greenlight.monitor.errors import LogFormatError, MissingLogError, SchemaMismatchError

REQUIRED_FIELDS = FIELDS
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
    frame[TIMESTAMP] = pd.to_datetime(frame[TIMESTAMP], utc=True)
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
    record = json_object(text, where, LogFormatError)
    if record.get("log_format", LOG_FORMAT) != LOG_FORMAT:  # another format: its fields may differ
        raise LogFormatError(
            f"{where}: log_format {record['log_format']!r} is not supported (expected {LOG_FORMAT})"
        )
    missing = [name for name in REQUIRED_FIELDS if name not in record]
    if missing:
        raise LogFormatError(f"{where}: missing field(s) {missing}")
    label, probability = _prediction(record["prediction"], where)
    row = _features(record["features"], where, features)
    row.update({TIMESTAMP: _timestamp(record["timestamp"], where), LABEL: label, WHERE: where})
    row.update({VERSION: str(record["model_version"]), PROBABILITY: probability})
    row[REQUEST_ID] = str(record["request_id"])
    return row


def _prediction(prediction: object, where: str) -> tuple[str, float]:
    if not isinstance(prediction, dict):
        raise LogFormatError(f"{where}: `prediction` must be an object with label and probability")
    label, probability = prediction.get("label"), prediction.get("probability")
    if not isinstance(label, str):
        raise LogFormatError(f"{where}: prediction.label must be a string, got {label!r}")
    if isinstance(probability, bool) or not isinstance(probability, int | float):
        raise LogFormatError(
            f"{where}: prediction.probability must be a number, not {probability!r}"
        )
    return label, float(probability)


def _features(values: object, where: str, expected: frozenset[str]) -> dict[str, Any]:
    if not isinstance(values, dict):
        raise LogFormatError(f"{where}: `features` must be an object of column -> value")
    if values.keys() != expected:
        missing, unexpected = sorted(expected - values.keys()), sorted(values.keys() - expected)
        # Names only, never values: an unexpected column may be a sensitive attribute.
        raise SchemaMismatchError(
            f"{where}: the logged features do not match the model's: "
            f"missing {missing}, unexpected {unexpected}"
        )
    return dict(values)


def _timestamp(value: object, where: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise LogFormatError(f"{where}: timestamp {value!r} is not an ISO 8601 time with a zone")
    return moment


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
