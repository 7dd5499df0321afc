"""The prediction log's format (docs/prediction-log.md): one typed record, `LoggedPrediction`,
that the service writes and drift monitoring, feedback and the deploy shadow check read, without
importing each other. Both logs are JSON Lines: one JSON object a line (`json_object`)."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from greenlight.errors import GreenlightError

LOG_FORMAT = 1  # bump on any change a reader must know about, and document it
FIELDS = ("log_format", "timestamp", "request_id", "model_version", "features", "prediction")
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"  # UTC, microseconds, `Z`: sorts as text
_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)  # one, not one per line

# The outcome log (docs/outcome-log.md): the true labels reported late for logged predictions.
OUTCOME_FORMAT = 1
OUTCOME_FIELDS = ("outcome_format", "imported_at", "request_id", "record", "label")


class LogFormatError(GreenlightError, ValueError):
    """A log line is not JSON, has another log_format, or lacks a field; names the file and line."""


def logged_features(features: Sequence[str], sensitive: Collection[str]) -> tuple[str, ...]:
    """The model's feature columns minus every sensitive one: all a log line may hold."""
    return tuple(name for name in features if name not in sensitive)


def stamp(moment: datetime) -> str:
    """`moment` as the log writes it (TIMESTAMP_FORMAT, converted to UTC)."""
    return moment.astimezone(UTC).strftime(TIMESTAMP_FORMAT)


@dataclass(frozen=True, slots=True)
class LoggedPrediction:
    """One line of the log: one predicted record, its request and the model that answered."""

    timestamp: str  # `stamp(...)`: kept as written, parsed on demand (`time`)
    request_id: str  # 32 hex digits, shared by the records of one request
    model_version: str
    features: dict[str, Any]  # logged_features only: never a sensitive attribute
    label: str
    probability: float

    def line(self) -> str:
        """The JSON line, newline included; ValueError on a NaN or infinite value."""
        record = {
            "log_format": LOG_FORMAT,
            "timestamp": self.timestamp,
            "request_id": self.request_id,
            "model_version": self.model_version,
            "features": self.features,
            "prediction": {"label": self.label, "probability": self.probability},
        }
        return _ENCODER.encode(record) + "\n"

    @property
    def time(self) -> datetime:
        return _timestamp(self.timestamp, "timestamp")

    @classmethod
    def parse(cls, text: str, where: str) -> LoggedPrediction:
        """One line; LogFormatError naming `where` when it is not a format-1 prediction."""
        record = json_object(text, where, LogFormatError)
        if record.get("log_format", LOG_FORMAT) != LOG_FORMAT:  # another format: other fields
            found = record["log_format"]
            raise LogFormatError(
                f"{where}: log_format {found!r} is not supported (expected {LOG_FORMAT})"
            )
        missing = [name for name in FIELDS if name not in record]
        if missing:
            raise LogFormatError(f"{where}: missing field(s) {missing}")
        label, probability = _prediction(record["prediction"], where)
        _timestamp(record["timestamp"], where)
        features = _features(record["features"], where)
        version, request = str(record["model_version"]), str(record["request_id"])
        return cls(record["timestamp"], request, version, features, label, probability)


def prediction_lines(
    timestamp: str,
    request_id: str,
    model_version: str,
    features: Sequence[dict[str, Any]],
    answers: tuple[Sequence[str], Sequence[float]],
) -> list[str]:
    """The lines of one request's records, the same text as `LoggedPrediction.line` of each, in
    two encoder calls per request instead of one per record (the log's cost: README, Serving).
    `answers` are the labels and probabilities; ValueError on a NaN or infinite value."""
    labels, probabilities = answers
    first = _first_key(features)
    if first is None:
        lines = zip(features, labels, probabilities, strict=True)
        return [
            LoggedPrediction(timestamp, request_id, model_version, row, label, value).line()
            for row, label, value in lines
        ]
    head = _ENCODER.encode(
        {
            "log_format": LOG_FORMAT,
            "timestamp": timestamp,
            "request_id": request_id,
            "model_version": model_version,
        }
    )
    rows = _split_objects(features, _ENCODER.encode(first))
    return _assembled(f'{head[:-1]},"features":{{', rows, labels, probabilities)


def _first_key(features: Sequence[dict[str, Any]]) -> str | None:
    """The key every record starts with, where the records can be encoded as one list and split
    back (`_split_objects`); None where they cannot (then they are encoded one by one)."""
    first = next(iter(features[0]), None) if features else None
    if not isinstance(first, str) or first[:1] in _AFTER_A_STRING:
        return None
    if any(next(iter(row), None) != first for row in features):
        return None
    return first


# What may follow a string's closing quote in the encoder's output (no whitespace: separators)
_AFTER_A_STRING = frozenset(":,}]")


def _split_objects(features: Sequence[dict[str, Any]], key: str) -> list[str]:
    """Each record's encoded object without its outer braces. The boundary `},{` + `key` + `:`
    cannot occur inside an encoded string (a string's quote is escaped, and its closing quote is
    followed by one of _AFTER_A_STRING, not by the key's first character), nor inside a record
    (its values are scalars), so it occurs between two records only."""
    boundary = "},{" + key + ":"
    objects = _ENCODER.encode(list(features))[2:-2].split(boundary)
    return [objects[0], *(key + ":" + text for text in objects[1:])]


def _assembled(
    head: str, rows: list[str], labels: Sequence[str], probabilities: Sequence[float]
) -> list[str]:
    numbers = _ENCODER.encode(list(probabilities))[1:-1].split(",")  # a number has no comma
    tails = {
        label: f'}},"prediction":{{"label":{_ENCODER.encode(label)},"probability":'
        for label in set(labels)
    }
    lines = zip(rows, labels, numbers, strict=True)
    return [f"{head}{row}{tails[label]}{number}}}}}\n" for row, label, number in lines]


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


def _features(values: object, where: str) -> dict[str, Any]:
    if not isinstance(values, dict):
        raise LogFormatError(f"{where}: `features` must be an object of column -> value")
    return values


def _timestamp(value: object, where: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise LogFormatError(f"{where}: timestamp {value!r} is not an ISO 8601 time with a zone")
    return moment


def json_object(text: str, where: str, error: type[GreenlightError]) -> dict[str, Any]:
    """One line as a JSON object; `error` (the reader's own) naming `where` when it is not one."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as problem:
        raise error(f"{where}: not valid JSON ({problem.msg})") from problem
    if not isinstance(value, dict):
        raise error(f"{where}: expected a JSON object, got {type(value).__name__}")
    return value
