"""The audit log: one JSON line per decision (time, actor, version, previous version, step, result,
reason), appended and flushed before the next step runs, and printed as it is written. Reasons
name versions, colors, counts and timings only: never a record's values (they can hold sensitive
attributes)."""

from __future__ import annotations

import getpass
import json
import os
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TextIO

from greenlight.errors import GreenlightError

Result = Literal["ok", "failed", "skipped", "info"]


@dataclass(frozen=True)
class AuditEntry:
    time: str
    actor: str
    target: str
    version: str | None
    previous_version: str | None
    step: str
    result: Result
    reason: str
    run: str = ""  # one id per controller run, to group its entries
    details: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        return f"[{self.time}] {self.step}: {self.result} - {self.reason}"


def current_actor() -> str:
    """Who asked for this: the GitHub user in Actions, else the local login name."""
    return os.environ.get("GITHUB_ACTOR") or getpass.getuser()


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass
class AuditLog:
    """Appends entries for one release (version, previous version) of one target."""

    path: Path
    target: str
    actor: str = field(default_factory=current_actor)
    version: str | None = None
    previous_version: str | None = None
    echo: TextIO | None = field(default_factory=lambda: sys.stdout)
    clock: Callable[[], str] = now_iso
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    def record(self, step: str, result: Result, reason: str, **details: Any) -> AuditEntry:
        entry = AuditEntry(
            time=self.clock(),
            actor=self.actor,
            target=self.target,
            version=self.version,
            previous_version=self.previous_version,
            step=step,
            result=result,
            reason=reason,
            run=self.run,
            details=details,
        )
        self._append(entry)
        return entry

    def _append(self, entry: AuditEntry) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as stream:
            stream.write(json.dumps(asdict(entry), default=str) + "\n")
            stream.flush()
            os.fsync(stream.fileno())
        if self.echo is not None:
            print(entry.line(), file=self.echo, flush=True)


def read_entries(path: Path) -> list[AuditEntry]:
    """Every entry in the log, oldest first; a malformed line is an error naming its number."""
    if not path.is_file():
        return []
    return list(_parse_lines(path))


def _parse_lines(path: Path) -> Iterator[AuditEntry]:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield AuditEntry(**json.loads(line))
        except (json.JSONDecodeError, TypeError) as error:
            raise GreenlightError(f"{path}:{number}: not an audit entry: {error}") from error
