"""What the comment is rendered from: plain data, read once by `sources` (and the base model by
`base_model`), so that rendering is a pure function of these two classes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from greenlight.lockcheck import StaleStage
from greenlight.report.behaviour import Flips
from greenlight.report.device import Device
from greenlight.stages.gate import Check


@dataclass(frozen=True)
class Side:
    """What one commit's reports and params say; None where that commit has no such file yet."""

    metrics: Mapping[str, Any] | None = None
    fairness: Mapping[str, Any] | None = None
    params: Mapping[str, Any] | None = None
    importance: Mapping[str, Any] | None = None
    explanations: Mapping[str, Any] | None = None
    validation: Mapping[str, Any] | None = None
    cost: Mapping[str, Any] | None = None
    curves: Mapping[str, pd.DataFrame] = field(default_factory=dict)  # reports/plots/<name>.csv


@dataclass(frozen=True)
class Timings:
    """What took how long, measured on this runner (see `timings`); None where nothing was."""

    predict_ms: tuple[float | None, float | None] = (None, None)  # base, branch: one record
    training_seconds: float | None = None  # this branch's fit, when it ran here
    explain_ratio: float | None = None  # one record explained / predicted, when explain ran here


@dataclass(frozen=True)
class ReportInputs:
    base_ref: str
    base: Side
    head: Side
    checks: Sequence[Check]
    provenance: Mapping[str, Any]
    manifest: Mapping[str, Any]
    device: Device
    figures: Sequence[str] = field(default=())  # the PNGs the workflow keeps as an artifact
    flips: Flips | None = None
    flips_note: str = ""  # why there are no flips to show, when there are none
    labels: tuple[str, str] = ("positive", "negative")  # the target's labels, for the flips
    stale: Sequence[StaleStage] = field(default=())  # dvc.lock vs what the repro produced
    timings: Timings = field(default_factory=Timings)
