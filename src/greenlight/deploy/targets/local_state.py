"""What the local target remembers between commands (state_dir.py has what both targets share):
per color, the release, its port and the `greenlight serve` process tree."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from greenlight.deploy.targets.base import COLORS, Color
from greenlight.deploy.targets.state_dir import PortSlot, ProcessModel, StateFile


class SlotModel(PortSlot):
    process: ProcessModel | None = None


class LocalState(StateFile):
    kind: ClassVar[str] = "local"
    metrics_port: int | None = None  # of the running HAProxy's exporter
    slots: dict[Color, SlotModel] = Field(
        default_factory=lambda: {color: SlotModel() for color in COLORS}
    )
