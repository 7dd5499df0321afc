"""Prediction log format v1: the documented keys, no sensitive column, size rotation that never
splits or loses a line, and everything written by close()."""

from __future__ import annotations

import json
import logging
import multiprocessing
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from serving_support import tiny_record, tiny_spec

from greenlight.serving.prediction_log import (
    Entry,
    PredictionLog,
    RotatingFile,
    format_entry,
    logged_columns,
)

SPEC = tiny_spec()
COLUMNS = logged_columns(SPEC, SPEC.feature_columns(use_sensitive=True))


def entry(count: int = 2, request_id: str = "ab" * 16) -> Entry:
    rows = [tiny_record(age=20 + index) for index in range(count)]
    labels = ["yes" if index % 2 else "no" for index in range(count)]
    return Entry(1_700_000_000.25, request_id, "v1", rows, labels, [0.25] * count)


def read_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_sensitive_columns_are_never_logged_even_when_they_are_features() -> None:
    assert "sex" in SPEC.feature_columns(use_sensitive=True)
    assert COLUMNS == ("age", "score", "colour", "hours-per-week", "class", "model_config")


def test_lines_follow_format_v1() -> None:
    lines = format_entry(entry(2), COLUMNS)
    assert len(lines) == 2
    assert all(line.endswith("\n") and line.count("\n") == 1 for line in lines)
    first = json.loads(lines[0])
    assert list(first) == [
        "log_format",
        "timestamp",
        "request_id",
        "model_version",
        "features",
        "prediction",
    ]
    assert first["log_format"] == 1
    assert datetime.fromisoformat(first["timestamp"]) == datetime.fromtimestamp(
        1_700_000_000.25, UTC
    )
    assert first["request_id"] == "ab" * 16
    assert first["features"] == {name: tiny_record(age=20)[name] for name in COLUMNS}
    assert "sex" not in first["features"]
    assert first["prediction"] == {"label": "no", "probability": 0.25}
    assert json.loads(lines[1])["features"]["age"] == 21


def test_a_missing_nullable_value_is_logged_as_null() -> None:
    row = tiny_record(score=None)
    line = format_entry(Entry(0.0, "00", "v1", [row], ["no"], [0.1]), COLUMNS)[0]
    assert json.loads(line)["features"]["score"] is None


def test_rotation_keeps_whole_lines_and_the_newest_files(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "predictions.jsonl"
    file = RotatingFile(path, max_bytes=2000, keep=3)
    lines = [
        line for index in range(40) for line in format_entry(entry(1, f"{index:032x}"), COLUMNS)
    ]
    for start in range(0, len(lines), 3):
        file.append(lines[start : start + 3])
    names = sorted(child.name for child in path.parent.iterdir())
    assert names == [
        ".predictions.jsonl.lock",
        *[f"predictions.jsonl{s}" for s in ("", ".1", ".2", ".3")],
    ]
    kept = [file.rotated(number) for number in (3, 2, 1)] + [path]
    assert all(candidate.stat().st_size <= 2000 for candidate in kept)
    ids = [line["request_id"] for candidate in kept for line in read_lines(candidate)]
    assert ids == [f"{index:032x}" for index in range(40)][-len(ids) :]  # oldest first, no gap


def test_a_line_longer_than_the_limit_gets_a_file_of_its_own(tmp_path: Path) -> None:
    path = tmp_path / "predictions.jsonl"
    file = RotatingFile(path, max_bytes=1024, keep=2)
    long_line = json.dumps({"x": "y" * 2000}) + "\n"
    file.append(["short\n", long_line, "after\n"])
    assert path.read_text() == "after\n"
    assert file.rotated(1).read_text() == long_line
    assert file.rotated(2).read_text() == "short\n"


def test_close_writes_everything_queued(tmp_path: Path) -> None:
    path = tmp_path / "predictions.jsonl"
    log = PredictionLog(RotatingFile(path, 10_000_000, 2), COLUMNS, flush_seconds=60)
    for index in range(50):
        log.record(entry(3, f"{index:032x}"))
    log.close()
    assert len(read_lines(path)) == 150
    assert log.written == 150


def test_a_failing_write_is_logged_and_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "predictions.jsonl"
    log = PredictionLog(RotatingFile(path, 10_000_000, 2), COLUMNS, flush_seconds=60)
    path.unlink()
    path.mkdir()  # writing to a directory fails like a full or read-only disk would
    log.record(entry(4))
    with caplog.at_level(logging.ERROR):
        log.close()
    assert log.lost == 4
    assert log.written == 0
    assert "4 lines lost" in caplog.text
    shutil.rmtree(path)


def _append_many(path: Path, writer: int) -> None:
    file = RotatingFile(path, max_bytes=20_000, keep=100)
    for index in range(60):
        file.append(format_entry(entry(2, f"{writer:016x}{index:016x}"), COLUMNS))


def test_two_processes_share_one_log_without_breaking_lines(tmp_path: Path) -> None:
    path = tmp_path / "predictions.jsonl"
    context = multiprocessing.get_context("fork")
    writers = [context.Process(target=_append_many, args=(path, writer)) for writer in (1, 2)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(60)
        assert writer.exitcode == 0
    files = [path, *sorted(path.parent.glob("predictions.jsonl.*"))]
    assert len(files) > 2  # it did rotate, concurrently
    lines = [line for candidate in files for line in read_lines(candidate)]
    assert len(lines) == 2 * 60 * 2
    assert len({line["request_id"] for line in lines}) == 2 * 60
