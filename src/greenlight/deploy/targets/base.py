"""The contract between the controller and a target: two colors, a release on each, and the few
operations a blue/green switch needs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

import httpx

Color = Literal["blue", "green"]
COLORS: tuple[Color, Color] = ("blue", "green")


def other(color: Color) -> Color:
    return "green" if color == "blue" else "blue"


@dataclass(frozen=True)
class Release:
    """One deployable version: the model version and where it comes from (a bundle directory for
    the local target, an image reference for Kubernetes)."""

    version: str
    source: str


@dataclass(frozen=True)
class Slot:
    """What a color runs, or last ran: a stopped color keeps its release so it can come back."""

    color: Color
    release: Release | None
    running: bool
    condition: str | None = None  # in words, where the target can tell more than `running`


@dataclass(frozen=True)
class Split:
    """An A/B split in progress: `candidate` takes `percent` of the traffic beside the live one."""

    candidate: Color
    percent: int
    started_at: str  # ISO 8601, UTC


@dataclass(frozen=True)
class TargetState:
    live: Color | None  # the color taking traffic; None before the first deployment
    slots: Mapping[Color, Slot]
    router: str | None = None  # the router's condition in words, where the target has one
    split: Split | None = None  # both colors take traffic (the local target only)

    @property
    def idle(self) -> Color:
        return other(self.live) if self.live else "blue"

    def release(self, color: Color | None) -> Release | None:
        return self.slots[color].release if color else None


@dataclass(frozen=True)
class Traffic:
    """Cumulative counts of the requests the router sent to one color, as its clients saw them."""

    requests: int
    errors: int  # 5xx answers and failed connections


class RequestFeed(Protocol):
    def read(self) -> list[str]:
        """Prediction-log lines written since the feed was opened (or last read)."""


class Target(Protocol):
    name: str

    def state(self) -> TargetState:
        """Which color is live and what each color runs."""

    def start(self, color: Color, release: Release) -> None:
        """Begin starting `release` on the idle `color`; return without waiting for readiness."""

    def available(self, color: Color) -> bool:
        """Whether everything `color` runs is up (its process; every replica of a Deployment)."""

    def failure(self, color: Color) -> str | None:
        """Why `color` can never become ready (its process exited...), or None."""

    def client(self, color: Color) -> httpx.Client:
        """An HTTP client whose base URL reaches `color` directly, bypassing the router."""

    def traffic(self, color: Color) -> Traffic:
        """What the router has counted for `color` so far."""

    def switch(self, color: Color) -> None:
        """Send all new requests to `color`; requests in flight on the other color finish there."""

    def stop(self, color: Color, keep: Release | None) -> None:
        """Drain and stop `color`, recording `keep` as the release it holds for a later rollback."""

    def feed(self, color: Color) -> RequestFeed | None:
        """The requests `color` answers from now on, for the shadow step; None if unavailable."""
