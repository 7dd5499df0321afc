"""Which requests the service's prediction log holds, and how many records each: what POST
/feedback checks a request id against (serving/feedback.py).

Read from the log itself, incrementally, rather than remembered by the request path:
- labels come late (hours, days): an id is known for as long as the log keeps it, which is the
  memory bound too (serving.log_max_bytes x (serving.log_keep + 1) of log);
- the workers of one service share its log, so a label reaches any worker, and a restart or a
  redeploy of the same log forgets nothing;
- "known" means what `greenlight outcomes import` checks too: the prediction reached the log
  (an outcome is never recorded for a line the log dropped, which no monitor could join).
The price: a label sent before its prediction's lines are flushed (serving.log_flush_seconds) is
not known yet. Each refresh reads only the bytes appended since the last one, under the log's
shared lock, so it never sees a rotation half done. Files are told apart by inode and their first
bytes; the ids of a file rotated out of the log are forgotten, and counted."""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from greenlight.filelock import locked
from greenlight.logformat import LogFormatError, LoggedPrediction

logger = logging.getLogger(__name__)
HEAD_BYTES = 128  # a file's first bytes, up to its first request id: with the inode, what tells
# it from a new file (the filesystem gives a rotated-out file's inode to the next new one)


@dataclass
class Tail:
    """The complete lines appended to one file since the last read."""

    inode: int
    head: bytes = b""
    offset: int = 0
    lines: int = 0  # read so far: the next line's number is lines + 1

    def same_file(self, path: Path, stat: os.stat_result) -> bool:
        """Still the file read before (not a new one that reuses the inode, not rewritten)."""
        if stat.st_ino != self.inode or stat.st_size < self.offset:
            return False
        with path.open("rb") as stream:
            return stream.read(len(self.head)) == self.head

    def new_lines(self, path: Path) -> Iterator[str]:
        """Line by line (a log of 50 MB is never held whole); a line still being written waits
        for the next read."""
        with path.open("rb") as stream:
            stream.seek(self.offset)
            for raw in stream:
                if not raw.endswith(b"\n"):
                    return
                if self.offset == 0:
                    self.head = raw[:HEAD_BYTES]
                self.offset += len(raw)
                self.lines += 1
                yield raw.decode("utf-8", errors="replace")


@dataclass
class _File:
    tail: Tail
    requests: Counter[str] = field(default_factory=Counter)  # request id -> lines (records)


def request_id_of(line: str) -> str | None:
    """The request id of a prediction line (`LoggedPrediction`); None for a line that is not one."""
    try:
        return LoggedPrediction.parse(line, "prediction log").request_id
    except LogFormatError:
        return None


class LoggedRequests:
    """The request ids of the prediction log at `path` and its rotated `path.1` ... `path.keep`.

    `forgotten` counts the requests whose lines all left the log (rotated out); `unreadable`,
    the lines that were not format-1 predictions (logged once each, never guessed at)."""

    def __init__(self, path: Path, keep: int) -> None:
        self.path, self.keep = path, keep
        self.files: dict[int, _File] = {}
        self.forgotten = self.unreadable = 0

    def records(self, request_id: str) -> int | None:
        """How many records the request had; None when the log holds none of its lines."""
        return sum(file.requests[request_id] for file in self.files.values()) or None

    def refresh(self) -> set[str]:
        """Read what was appended since the last refresh; the request ids forgotten meanwhile."""
        current: dict[int, _File] = {}
        with locked(self.path, shared=True):
            for path in self._paths():
                file = self._file_at(path)
                self._read(path, file)
                current[file.tail.inode] = file
        return self._forget(current)

    def _file_at(self, path: Path) -> _File:
        """The file read before, if `path` is still it (perhaps under a rotated name), else new."""
        stat = path.stat()
        known = self.files.get(stat.st_ino)
        if known is not None and known.tail.same_file(path, stat):
            return known
        return _File(Tail(stat.st_ino))

    def _paths(self) -> Iterator[Path]:
        rotated = (self.path.with_name(f"{self.path.name}.{n}") for n in range(1, self.keep + 1))
        return (path for path in (self.path, *rotated) if path.exists())

    def _read(self, path: Path, file: _File) -> None:
        for line in file.tail.new_lines(path):
            request_id = request_id_of(line)
            if request_id is None:
                self.unreadable += 1
                logger.error("%s: a line that is not a format-1 prediction, not indexed", path)
            else:
                file.requests[request_id] += 1

    def _forget(self, current: dict[int, _File]) -> set[str]:
        gone = [file for inode, file in self.files.items() if current.get(inode) is not file]
        self.files = current
        forgotten = {rid for file in gone for rid in file.requests if self.records(rid) is None}
        self.forgotten += len(forgotten)
        return forgotten
