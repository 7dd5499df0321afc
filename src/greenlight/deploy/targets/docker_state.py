"""What the docker target remembers between commands (state_dir.py has what both targets share):
per color, the release (the image by digest), its port and the id of its container."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from greenlight.deploy.targets.base import COLORS, Color
from greenlight.deploy.targets.state_dir import PortSlot, StateFile


class ContainerSlot(PortSlot):
    container: str | None = None  # the id of the container started for it; None once stopped


class DockerState(StateFile):
    kind: ClassVar[str] = "docker"
    slots: dict[Color, ContainerSlot] = Field(
        default_factory=lambda: {color: ContainerSlot() for color in COLORS}
    )
