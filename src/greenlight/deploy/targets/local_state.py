"""What the local target remembers between commands (state_dir.py has what both targets share):
per color, the release, its port and the `greenlight serve` process tree."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from greenlight.deploy.targets.base import COLORS, Color
from greenlight.deploy.targets.state_dir import ProcessModel, ReleaseModel, StateFile, StateModel


class SlotModel(StateModel):
    release: ReleaseModel | None = None
    port: int | None = None
    process: ProcessModel | None = None


class SplitModel(StateModel):
    """An A/B split in progress: `candidate` takes `percent` of the traffic beside the live color.
    `log_offset`: the size of HAProxy's log when it began (its request lines after it count)."""

    candidate: Color
    percent: int
    started_at: str  # ISO 8601, UTC
    log_offset: int = 0
    replaced: ReleaseModel | None = None  # what the candidate's color held before, for rollbacks


class LocalState(StateFile):
    kind: ClassVar[str] = "local"
    metrics_port: int | None = None  # of the running HAProxy's exporter
    split: SplitModel | None = None
    slots: dict[Color, SlotModel] = Field(
        default_factory=lambda: {color: SlotModel() for color in COLORS}
    )
