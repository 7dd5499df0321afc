"""Prediction log format v1: the documented keys, no sensitive column, size rotation that never
splits or loses a line, and everything written by close()."""

from __future__ import annotations

import dataclasses
import json
import logging
import multiprocessing
import shutil
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from serving_support import tiny_record, tiny_spec

from greenlight.logformat import logged_features
from greenlight.serving.prediction_log import (
    Entry,
    PredictionLog,
    RotatingFile,
    format_entry,
)

SPEC = tiny_spec()
COLUMNS = logged_features(SPEC.feature_columns(use_sensitive=True), SPEC.sensitive)


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
    assert (log.dropped, log.failures, log.written) == (4, 1, 0)
    assert "write failed" in caplog.text and "4 lines dropped" in caplog.text
    shutil.rmtree(path)


class Losses(list):
    def __call__(self, reason: str, lines: int) -> None:
        self.append((reason, lines))


def wait_until(condition: Callable[[], bool], within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)
    return condition()


@pytest.mark.parametrize(
    ("poison", "words"),
    [
        ({"probabilities": [float("nan")] * 2}, "Out of range float"),
        ({"probabilities": [float("inf")] * 2}, "Out of range float"),
        ({"rows": [tiny_record(age=object())] * 2}, "not JSON serializable"),
    ],
)
def test_a_value_that_is_not_json_drops_only_its_request_and_is_counted(
    tmp_path: Path, poison: dict[str, Any], words: str
) -> None:
    path = tmp_path / "predictions.jsonl"
    losses = Losses()
    log = PredictionLog(RotatingFile(path, 10_000_000, 2), COLUMNS, 0.05, on_loss=losses)
    log.record(entry(3, "aa" * 16))
    log.record(dataclasses.replace(entry(2, "bb" * 16), **poison))
    log.record(entry(4, "cc" * 16))
    assert wait_until(lambda: log.written == 7)
    assert log.problem is None or words in log.problem  # set, then cleared by a clean flush
    assert (log.failures, log.dropped) == (1, 2)
    [(reason, lines)] = losses
    assert lines == 2 and "bb" * 16 in reason and words in reason
    log.record(entry(1, "dd" * 16))  # the writer lives on
    assert wait_until(lambda: log.written == 8 and log.problem is None)
    log.close()
    logged = [line["request_id"][:2] for line in read_lines(path)]
    assert logged == ["aa"] * 3 + ["cc"] * 4 + ["dd"]


def test_the_queue_is_bounded_and_an_entry_that_does_not_fit_is_counted(tmp_path: Path) -> None:
    path = tmp_path / "predictions.jsonl"
    losses = Losses()
    log = PredictionLog(
        RotatingFile(path, 10_000_000, 2), COLUMNS, 60, max_lines=10, on_loss=losses
    )
    log._wake.set = lambda: None  # type: ignore[method-assign]  # no early flush: hold the queue
    for index in range(4):
        log.record(entry(3, f"{index:032x}"))
    assert (log.failures, log.dropped) == (1, 3)
    assert losses == [("queue full (10 lines waiting)", 3)]
    assert log.problem == "queue full (10 lines waiting)"
    log.close()
    assert len(read_lines(path)) == 9 and log.written == 9


def test_half_a_queue_flushes_early_and_lines_reach_the_disk_within_the_interval(
    tmp_path: Path,
) -> None:
    path = tmp_path / "predictions.jsonl"
    early = PredictionLog(RotatingFile(path, 10_000_000, 2), COLUMNS, 60, max_lines=10)
    early.record(entry(5))
    assert wait_until(lambda: early.written == 5, within=2.0)  # long before 60 s
    early.close()
    timely = PredictionLog(RotatingFile(path, 10_000_000, 2), COLUMNS, flush_seconds=0.2)
    started = time.monotonic()
    timely.record(entry(1))
    assert wait_until(lambda: len(path.read_text().splitlines()) == 6, within=2.0)
    assert time.monotonic() - started < 1.0
    timely.close()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_writer_that_dies_is_a_problem_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "predictions.jsonl"
    file = RotatingFile(path, 10_000_000, 2)
    losses = Losses()
    log = PredictionLog(file, COLUMNS, 0.05, on_loss=losses)

    def explode(lines: Sequence[str]) -> None:
        raise RuntimeError("a bug in the writer")

    file.append = explode  # type: ignore[method-assign]
    log.record(entry(2))
    assert wait_until(lambda: not log._writer.is_alive())
    assert log.problem == "the prediction log writer stopped"
    assert losses == [("the writer thread stopped", 0)] and log.failures == 1


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
