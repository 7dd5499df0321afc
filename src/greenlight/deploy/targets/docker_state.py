"""What the docker target remembers between commands: `<state_dir>/state.json`, written atomically
after every change. It names what we started (HAProxy by pid and start time, each color's
container by id); what actually runs is always asked of the engine and the process table."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from greenlight.deploy.targets.base import COLORS, Color
from greenlight.deploy.targets.local_state import ProcessModel, ReleaseModel
from greenlight.errors import GreenlightError
from greenlight.files import read_json, write_json

STATE_FORMAT = 1


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ContainerSlot(_Model):
    release: ReleaseModel | None = None  # source: the image reference by digest
    port: int | None = None
    container: str | None = None  # the id of the container started for it; None once stopped


class DockerState(_Model):
    format: int = STATE_FORMAT
    live: Color | None = None
    proxy: ProcessModel | None = None
    proxy_port: int | None = None
    slots: dict[Color, ContainerSlot] = Field(
        default_factory=lambda: {color: ContainerSlot() for color in COLORS}
    )


def load_state(path: Path) -> DockerState:
    if not path.is_file():
        return DockerState()
    try:
        state = DockerState.model_validate(read_json(path))
    except ValidationError as error:
        raise GreenlightError(f"{path}: not a docker deploy state file: {error}") from error
    if state.format != STATE_FORMAT:
        raise GreenlightError(f"{path}: state format {state.format} is not supported")
    return state


def save_state(path: Path, state: DockerState) -> None:
    write_json(path, state.model_dump(mode="json"))
