"""The prediction log, format v1 (docs/prediction-log.md): JSON Lines, one object per predicted
record, rotated by size (`predictions.jsonl` -> `.1` -> `.2` ...).

The request path only appends to an in-memory queue; a background thread formats and writes the
lines every `flush_seconds` and once more on close, so a clean shutdown loses nothing. Rotation
and writes hold an exclusive lock file, so several worker processes can share one log."""

from __future__ import annotations

import fcntl
import json
import logging
import queue
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from greenlight.logformat import LOG_FORMAT
from greenlight.spec import DatasetSpec

logger = logging.getLogger(__name__)


def logged_columns(spec: DatasetSpec, features: Sequence[str]) -> tuple[str, ...]:
    """The model's feature columns minus every sensitive one: all a log line may hold."""
    return tuple(name for name in features if name not in spec.sensitive)


@dataclass(frozen=True)
class Entry:
    """One request's predictions, as queued by the request path (formatted later)."""

    time: float
    request_id: str
    model_version: str
    rows: Sequence[dict[str, Any]]
    labels: Sequence[str]
    probabilities: Sequence[float]


def format_entry(entry: Entry, columns: Sequence[str]) -> list[str]:
    """The JSON lines of one request, each ending in a newline."""
    stamp = datetime.fromtimestamp(entry.time, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    head = {"log_format": LOG_FORMAT, "timestamp": stamp, "request_id": entry.request_id}
    head["model_version"] = entry.model_version
    lines = []
    for row, label, probability in zip(entry.rows, entry.labels, entry.probabilities, strict=True):
        line = {
            **head,
            "features": {name: row.get(name) for name in columns},
            "prediction": {"label": label, "probability": probability},
        }
        lines.append(json.dumps(line, separators=(",", ":"), allow_nan=False) + "\n")
    return lines


class RotatingFile:
    """Appends text to `path`; before the file would pass `max_bytes` it becomes `path.1`, older
    files shift up by one and the oldest beyond `keep` is deleted."""

    def __init__(self, path: Path, max_bytes: int, keep: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.keep = keep
        self.lock_path = path.with_name(f".{path.name}.lock")  # outside the readers' glob
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()

    def append(self, lines: Sequence[str]) -> None:
        with self._locked():
            size = self.path.stat().st_size if self.path.exists() else 0
            for chunk in _chunks(lines, size, self.max_bytes):
                if chunk.rotate_first:
                    self._rotate()
                with self.path.open("a", encoding="utf-8") as stream:
                    stream.write(chunk.text)

    def _rotate(self) -> None:
        self.rotated(self.keep).unlink(missing_ok=True)
        for number in range(self.keep - 1, 0, -1):
            if self.rotated(number).exists():
                self.rotated(number).replace(self.rotated(number + 1))
        self.path.replace(self.rotated(1))

    def rotated(self, number: int) -> Path:
        return self.path.with_name(f"{self.path.name}.{number}")

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with self.lock_path.open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


@dataclass(frozen=True)
class _Chunk:
    text: str
    rotate_first: bool


def _chunks(lines: Sequence[str], size: int, max_bytes: int) -> Iterator[_Chunk]:
    """Split `lines` where the file would pass `max_bytes`; a line is never split, and a file
    always takes at least one line."""
    current: list[str] = []
    rotate_first = False
    for line in lines:
        length = len(line.encode("utf-8"))
        if size > 0 and size + length > max_bytes:
            if current:
                yield _Chunk("".join(current), rotate_first)
            current, rotate_first, size = [], True, 0
        current.append(line)
        size += length
    if current:
        yield _Chunk("".join(current), rotate_first)


class PredictionLog:
    """Queue on the request path, a writer thread behind it; `close()` flushes everything."""

    def __init__(self, file: RotatingFile, columns: Sequence[str], flush_seconds: float) -> None:
        self.file = file
        self.columns = tuple(columns)
        self.flush_seconds = flush_seconds
        self.written = 0
        self.lost = 0
        self._queue: queue.SimpleQueue[Entry] = queue.SimpleQueue()
        self._closing = threading.Event()
        self._writer = threading.Thread(target=self._run, name="prediction-log", daemon=True)
        self._writer.start()

    def record(self, entry: Entry) -> None:
        self._queue.put(entry)

    def close(self) -> None:
        self._closing.set()
        self._writer.join()
        self._drain()  # anything queued while the writer was finishing

    def _run(self) -> None:
        while not self._closing.wait(self.flush_seconds):
            self._drain()
        self._drain()

    def _drain(self) -> None:
        lines: list[str] = []
        while True:
            try:
                entry = self._queue.get_nowait()
            except queue.Empty:
                break
            lines.extend(format_entry(entry, self.columns))
        if lines:
            self._write(lines)

    def _write(self, lines: list[str]) -> None:
        try:
            self.file.append(lines)
        except OSError as error:
            # The service keeps answering; the loss is logged and counted, never silent.
            logger.error("prediction log %s: %d lines lost: %s", self.file.path, len(lines), error)
            self.lost += len(lines)
            return
        self.written += len(lines)
