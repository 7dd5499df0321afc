"""The prediction log, format v1 (docs/prediction-log.md): JSON Lines, one object per predicted
record, rotated by size (`predictions.jsonl` -> `.1` -> `.2` ...).

The request path only appends to a bounded in-memory queue; a background thread formats and
writes the lines every `flush_seconds` and once more on close, so a clean shutdown loses nothing
and a SIGKILL at most one interval. Every line that cannot be written is counted (see
PredictionLog). Rotation and writes hold an exclusive lock file, so several worker processes can
share one log."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from greenlight.filelock import lock_path, locked
from greenlight.logformat import prediction_lines, stamp

logger = logging.getLogger(__name__)


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
    """The JSON lines of one request (`LoggedPrediction.line` of each record), each ending in a
    newline; ValueError (or TypeError) where a value is not JSON."""
    moment = stamp(datetime.fromtimestamp(entry.time, UTC))
    features = [{name: row.get(name) for name in columns} for row in entry.rows]
    answers = (entry.labels, entry.probabilities)
    return prediction_lines(moment, entry.request_id, entry.model_version, features, answers)


class RotatingFile:
    """Appends text to `path`; before the file would pass `max_bytes` it becomes `path.1`, older
    files shift up by one and the oldest beyond `keep` is deleted."""

    def __init__(self, path: Path, max_bytes: int, keep: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.keep = keep
        self.lock_path = lock_path(path)  # outside the readers' glob
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()

    def append(self, lines: Sequence[str]) -> None:
        with locked(self.path):
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


LossHook = Callable[[str, int], object]  # (reason, lines dropped): one writer failure


def _uncounted(reason: str, lines: int) -> None:
    """The default hook: the log's own counters (failures, dropped) still count it."""


class NoLog:
    """The prediction log turned off (`serving.log_predictions: false`): the request path queues
    nothing, nothing is formatted or written, so nothing can be lost either."""

    written = dropped = failures = 0
    problem: str | None = None

    def record(self, entry: Entry) -> None:
        return None

    def close(self) -> None:
        return None


class PredictionLog:
    """A bounded queue on the request path, a writer thread behind it; `close()` flushes.

    The writer wakes every `flush_seconds` (sooner once half the queue is used) and appends what
    is queued, so a SIGKILL loses at most that interval. Nothing is dropped silently: every
    failure (a write error, a value that is not JSON, a full queue, a writer that stopped) is
    counted in `failures`, its lines in `dropped`, reported to `on_loss`, logged when the reason
    changes, and held in `problem` (the service's readiness) until a flush passes without one.
    Policy when full: at most `max_lines` lines wait; an entry that does not fit is dropped (its
    request is still answered)."""

    def __init__(
        self,
        file: RotatingFile,
        columns: Sequence[str],
        flush_seconds: float,
        max_lines: int = 50_000,
        on_loss: LossHook = _uncounted,
    ) -> None:
        self.file, self.columns, self.on_loss = file, tuple(columns), on_loss
        self.flush_seconds, self.max_lines = flush_seconds, max_lines
        self.written = self.dropped = self.failures = 0
        self.last_failure: str | None = None
        self._pending: list[Entry] = []
        self._pending_lines = 0
        self._lock = threading.Lock()
        self._wake, self._closing = threading.Event(), threading.Event()
        self._writer = threading.Thread(target=self._run, name="prediction-log", daemon=True)
        self._writer.start()

    @property
    def problem(self) -> str | None:
        """Why the log is not keeping up (None while it is): the service is not ready then."""
        if not self._writer.is_alive() and not self._closing.is_set():
            return "the prediction log writer stopped"
        return self.last_failure

    def record(self, entry: Entry) -> None:
        lines = len(entry.rows)
        with self._lock:
            fits = self._pending_lines + lines <= self.max_lines
            if fits:
                self._pending.append(entry)
                self._pending_lines += lines
            hurry = 2 * self._pending_lines >= self.max_lines
        if not fits:
            self._lose(f"queue full ({self.max_lines} lines waiting)", lines)
        if hurry:
            self._wake.set()

    def close(self) -> None:
        self._closing.set()
        self._wake.set()
        self._writer.join()
        self._drain()  # anything queued while the writer was finishing

    def _run(self) -> None:
        try:
            while not self._closing.is_set():
                self._wake.wait(self.flush_seconds)
                self._wake.clear()
                self._drain()
        finally:  # not a catch: an unexpected error still ends the thread with its traceback
            if not self._closing.is_set():
                self._lose("the writer thread stopped", 0)

    def _drain(self) -> None:
        with self._lock:
            entries, self._pending, self._pending_lines = self._pending, [], 0
            failures = self.failures
        lines = [line for entry in entries for line in self._format(entry)]
        if lines:
            self._write(lines)
        with self._lock:
            if self.failures == failures:
                self.last_failure = None  # a whole flush without a failure: caught up

    def _format(self, entry: Entry) -> list[str]:
        try:
            return format_entry(entry, self.columns)
        except (ValueError, TypeError) as error:  # NaN/inf, or a value json cannot encode
            reason = f"request {entry.request_id}: not JSON-encodable ({error})"
            self._lose(reason, len(entry.rows))
            return []

    def _write(self, lines: list[str]) -> None:
        try:
            self.file.append(lines)
        except OSError as error:
            self._lose(f"write failed: {error}", len(lines))
            return
        self.written += len(lines)

    def _lose(self, reason: str, lines: int) -> None:
        with self._lock:
            self.failures += 1
            self.dropped += lines
            changed, self.last_failure = reason != self.last_failure, reason
        if changed:  # once per new reason: a full queue must not flood the server log
            logger.error("prediction log %s: %s; %d lines dropped", self.file.path, reason, lines)
        self.on_loss(reason, lines)
