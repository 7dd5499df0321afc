"""What the local and the docker target keep under their `state_dir`: the lock that lets one
deployment in at a time, and `state.json`, written atomically after every change. It names what
the target started: processes by pid and start time, so a stale file after a reboot reads as "not
running" rather than pointing at someone else's process; what actually runs is always asked of the
process table (and of the engine, for containers)."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from greenlight.deploy.targets.base import Color, Release
from greenlight.deploy.targets.processes import ProcessRecord
from greenlight.errors import GreenlightError, TargetBusyError
from greenlight.files import read_json, write_json

STATE_FORMAT = 1


@contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """Hold the lock file `path` for the block; TargetBusyError if another deployment holds it."""
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as held:
            raise TargetBusyError(f"another deployment is running (it holds {path})") from held
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class StateModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProcessModel(StateModel):
    pid: int
    started: float
    tag: str = ""  # the environment tag every process of its tree carries (processes.py)

    def record(self) -> ProcessRecord:
        return ProcessRecord(pid=self.pid, started=self.started, tag=self.tag)

    @classmethod
    def of(cls, record: ProcessRecord) -> ProcessModel:
        return cls(pid=record.pid, started=record.started, tag=record.tag)


class ReleaseModel(StateModel):
    version: str
    source: str  # local: the bundle's snapshot under <state_dir>/releases/; docker: the image

    def release(self) -> Release:
        return Release(version=self.version, source=self.source)


class PortSlot(StateModel):
    """What every target remembers of a color: its release and the port its service listens on."""

    release: ReleaseModel | None = None  # local: the bundle's snapshot; docker: the image
    port: int | None = None


class SplitModel(StateModel):
    """An A/B split in progress: `candidate` takes `percent` of the traffic beside the live color.
    `log_offset`: the size of HAProxy's log when it began (its request lines after it count)."""

    candidate: Color
    percent: int
    started_at: str  # ISO 8601, UTC
    log_offset: int = 0
    replaced: ReleaseModel | None = None  # what the candidate's color held before, for rollbacks


class StateFile(StateModel):
    """What both targets' state.json hold; each adds its slots."""

    kind: ClassVar[str]  # the target's name, for errors
    format: int = STATE_FORMAT
    live: Color | None = None
    proxy: ProcessModel | None = None  # the HAProxy we started
    proxy_port: int | None = None
    split: SplitModel | None = None
    slots: dict[Color, PortSlot] = Field(default_factory=dict)  # each target's own kind

    def ports(self) -> dict[Color, int | None]:
        return {color: slot.port for color, slot in self.slots.items()}

    @classmethod
    def load(cls, path: Path) -> Self:
        """The state file at `path` (a fresh state where there is none); GreenlightError naming
        the file when it is not one of this target's."""
        if not path.is_file():
            return cls()
        try:
            state = cls.model_validate(read_json(path))
        except ValidationError as error:
            raise GreenlightError(f"{path}: not a {cls.kind} deploy state file: {error}") from error
        if state.format != STATE_FORMAT:
            raise GreenlightError(f"{path}: state format {state.format} is not supported")
        return state

    def save(self, path: Path) -> None:
        write_json(path, self.model_dump(mode="json"))
