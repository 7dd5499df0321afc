"""Delayed labels: the true outcome of a logged prediction, named by the prediction's `request_id`
and `record` (its 0-based position within the request: a batch's records share the request id).

A labels file (CSV with a header row, or JSON Lines) holds exactly `request_id`, `record` and
`label`; `greenlight outcomes import` checks it whole and appends it to the outcome log, format 1
(docs/outcome-log.md), or appends nothing. An outcome is recorded once: one given twice in a file,
or already in the log, is refused, never replaced. Any other column is refused too, so the outcome
log can never hold a sensitive attribute. Parsing and checks are pure; the readers are thin.

Outside `monitor/` because the service writes the outcome log too (POST /feedback,
serving/feedback.py), and the serving image holds only what serving imports."""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from greenlight.errors import GreenlightError
from greenlight.logformat import OUTCOME_FIELDS, OUTCOME_FORMAT, json_object


class OutcomeError(GreenlightError, ValueError):
    """A labels, outcome-log or sensitive-attribute file (or a POST /feedback body) breaks its
    format, or names records the prediction log does not hold; names the file, the key and how
    many records."""


KEY_FIELDS = ("request_id", "record")
LABEL_FIELDS = (*KEY_FIELDS, "label")
SHOWN = 3  # keys named in an error; the count says how many there are
Key = tuple[str, int]
Row = tuple[str, dict[str, Any]]  # ("file:line", the row's values)


@dataclass(frozen=True)
class Outcome:
    request_id: str
    record: int
    label: str
    where: str  # "file:line"

    @property
    def key(self) -> Key:
        return (self.request_id, self.record)


def read_rows(path: Path) -> list[Row]:
    """The rows of a .csv (header row) or .jsonl file, each with its "file:line"."""
    if not path.is_file():
        raise OutcomeError(f"{path}: no such file")
    if path.suffix == ".csv":
        return list(_csv_rows(path))
    if path.suffix in {".jsonl", ".json"}:
        return list(_jsonl_rows(path))
    raise OutcomeError(f"{path}: expected a .csv or .jsonl file, not {path.suffix or 'no suffix'}")


def _csv_rows(path: Path) -> Iterator[Row]:
    with path.open(newline="", encoding="utf-8") as stream:
        reader = csv.DictReader(stream)
        for row in reader:
            if None in row or None in row.values():
                raise OutcomeError(f"{path}:{reader.line_num}: not as many values as columns")
            yield f"{path}:{reader.line_num}", row


def _jsonl_rows(path: Path) -> Iterator[Row]:
    with path.open(encoding="utf-8") as lines:
        for number, text in enumerate(lines, start=1):
            if text.strip():
                yield f"{path}:{number}", json_object(text, f"{path}:{number}", OutcomeError)


def check_columns(
    where: str,
    columns: Collection[str],
    expected: Sequence[str],
    sensitive: Collection[str],
    optional: Collection[str] = (),
) -> None:
    """Exactly `expected` (`optional` ones may be absent); names only, never values. A sensitive
    column gets its own advice."""
    missing = [name for name in expected if name not in columns and name not in optional]
    extra = sorted(set(columns) - set(expected))
    if not missing and not extra:
        return
    advice = ""
    if set(extra) & set(sensitive):
        advice = (
            ": sensitive attributes never go into the outcome log; keep them in the separate "
            "file `greenlight monitor performance --sensitive` reads"
        )
    raise OutcomeError(f"{where}: missing column(s) {missing}, unexpected {extra}{advice}")


def parse_outcome(where: str, row: dict[str, Any], labels: Collection[str]) -> Outcome:
    """One labels-file row; OutcomeError naming `where` and the key at fault."""
    request_id, label = row["request_id"], row["label"]
    if not isinstance(request_id, str) or not request_id.strip():
        raise OutcomeError(f"{where}: request_id must be a non-empty string, got {request_id!r}")
    if label not in labels:
        raise OutcomeError(f"{where}: label {label!r} is not one of {sorted(labels)}")
    return Outcome(request_id.strip(), record_number(where, row["record"]), label, where)


def record_number(where: str, value: object) -> int:
    """A 0-based position: a JSON integer, or the digits of a CSV cell."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise OutcomeError(f"{where}: record must be an integer >= 0, got {value!r}")


def parse_labels(
    rows: Iterable[Row], labels: Collection[str], sensitive: Collection[str]
) -> list[Outcome]:
    """Every row of a labels file as an Outcome, or OutcomeError at the first bad one."""
    outcomes = []
    for where, row in rows:
        check_columns(where, row.keys(), LABEL_FIELDS, sensitive)
        outcomes.append(parse_outcome(where, row, labels))
    return outcomes


def few(keys: Sequence[Key]) -> str:
    shown = ", ".join(f"{request_id}/{record}" for request_id, record in keys[:SHOWN])
    return shown + (", ..." if len(keys) > SHOWN else "")


def check_unique(source: Path, outcomes: Sequence[Outcome]) -> None:
    counts = Counter(outcome.key for outcome in outcomes)
    repeated = [key for key, count in counts.items() if count > 1]
    if repeated:
        raise OutcomeError(
            f"{source}: {len(repeated):,} (request_id, record) pair(s) given more than once "
            f"(first: {few(repeated)}); an outcome is recorded once"
        )


def check_new(source: Path, outcomes: Sequence[Outcome], recorded: Collection[Key]) -> None:
    again = [outcome.key for outcome in outcomes if outcome.key in recorded]
    if again:
        raise OutcomeError(
            f"{source}: {len(again):,} of {len(outcomes):,} outcome(s) are already in the outcome "
            f"log (first: {few(again)}); a recorded outcome is never replaced"
        )


def check_predicted(source: Path, outcomes: Sequence[Outcome], predicted: Collection[Key]) -> None:
    """Every outcome names a logged prediction; else how many do not, and why."""
    unknown = [outcome.key for outcome in outcomes if outcome.key not in predicted]
    if not unknown:
        return
    requests = {request_id for request_id, _ in predicted}
    no_request = sum(request_id not in requests for request_id, _ in unknown)
    raise OutcomeError(
        f"{source}: {len(unknown):,} of {len(outcomes):,} outcome(s) name no logged prediction "
        f"({no_request:,} unknown request_id, {len(unknown) - no_request:,} record beyond its "
        f"request's records; first: {few(unknown)}); nothing was imported"
    )


def outcome_line(outcome: Outcome, imported_at: datetime) -> str:
    values = (OUTCOME_FORMAT, imported_at.isoformat(), *outcome.key, outcome.label)
    return json.dumps(dict(zip(OUTCOME_FIELDS, values, strict=True)), separators=(",", ":"))


def parse_log_line(text: str, where: str, labels: Collection[str]) -> Outcome:
    record = json_object(text, where, OutcomeError)
    if record.get("outcome_format") != OUTCOME_FORMAT:
        raise OutcomeError(
            f"{where}: outcome_format {record.get('outcome_format')!r} is not supported "
            f"(expected {OUTCOME_FORMAT})"
        )
    check_columns(where, record.keys(), OUTCOME_FIELDS, ())
    return parse_outcome(where, record, labels)


def read_outcome_log(path: Path, labels: Collection[str]) -> list[Outcome]:
    """Every outcome recorded at `path`; none when there is no log yet."""
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as lines:
        outcomes = [
            parse_log_line(text, f"{path}:{number}", labels)
            for number, text in enumerate(lines, start=1)
            if text.strip()
        ]
    check_unique(path, outcomes)
    return outcomes


def append_outcomes(path: Path, outcomes: Sequence[Outcome], imported_at: datetime) -> None:
    """One write of all the lines, so a failed import leaves the log as it was. The caller holds
    the log's lock (`greenlight.filelock.locked`) from its duplicate check to here."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(outcome_line(outcome, imported_at) + "\n" for outcome in outcomes)
    with path.open("a", encoding="utf-8") as stream:
        stream.write(text)
