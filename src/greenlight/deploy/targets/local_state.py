"""What the local target remembers between commands: `<state_dir>/state.json`, written atomically
after every change. Processes are named by pid and start time, so a stale file after a reboot
reads as "not running" rather than pointing at someone else's process."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from greenlight.deploy.targets.base import COLORS, Color, Release
from greenlight.deploy.targets.processes import ProcessRecord
from greenlight.errors import GreenlightError
from greenlight.files import read_json, write_json

STATE_FORMAT = 1


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProcessModel(_Model):
    pid: int
    started: float
    tag: str = ""  # the environment tag every process of its tree carries (processes.py)

    def record(self) -> ProcessRecord:
        return ProcessRecord(pid=self.pid, started=self.started, tag=self.tag)

    @classmethod
    def of(cls, record: ProcessRecord) -> ProcessModel:
        return cls(pid=record.pid, started=record.started, tag=record.tag)


class ReleaseModel(_Model):
    version: str
    source: str  # the snapshot of the bundle under <state_dir>/releases/

    def release(self) -> Release:
        return Release(version=self.version, source=self.source)


class SlotModel(_Model):
    release: ReleaseModel | None = None
    port: int | None = None
    process: ProcessModel | None = None


class LocalState(_Model):
    format: int = STATE_FORMAT
    live: Color | None = None
    proxy: ProcessModel | None = None
    proxy_port: int | None = None
    metrics_port: int | None = None  # of the running HAProxy's exporter
    slots: dict[Color, SlotModel] = Field(
        default_factory=lambda: {color: SlotModel() for color in COLORS}
    )


def load_state(path: Path) -> LocalState:
    if not path.is_file():
        return LocalState()
    try:
        state = LocalState.model_validate(read_json(path))
    except ValidationError as error:
        raise GreenlightError(f"{path}: not a local deploy state file: {error}") from error
    if state.format != STATE_FORMAT:
        raise GreenlightError(f"{path}: state format {state.format} is not supported")
    return state


def save_state(path: Path, state: LocalState) -> None:
    write_json(path, state.model_dump(mode="json"))
