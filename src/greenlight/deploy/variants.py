"""Per-variant figures of an A/B split on the local or docker target, since the split began:
requests, errors and latency percentiles (HAProxy's request lines), predictions and the positive
rate (each color's prediction log; the docker target copies them out of its containers first),
and, where outcomes have arrived (each color's outcome log, joined by request id and record with
the monitor's own code), accuracy, the share of positive outcomes and, given a separate
sensitive-attribute store, the fairness differences per attribute. The figures name attributes
only where the caller asked for them with that store; never a group's value."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from greenlight import outcomes
from greenlight.deploy.decide import VariantCounts
from greenlight.deploy.settings import SplitSettings
from greenlight.deploy.targets.base import COLORS, Color
from greenlight.deploy.targets.haproxy import REQUEST_LOG_TAG
from greenlight.deploy.targets.proxied import ProxiedTarget
from greenlight.deploy.targets.state_dir import SplitModel
from greenlight.logformat import LoggedPrediction
from greenlight.monitor import log_reader, performance
from greenlight.monitor.errors import MissingLogError
from greenlight.monitor.job import Model, read_model
from greenlight.monitor.log_reader import LABEL, PROBABILITY, RECORD, REQUEST_ID, TIMESTAMP, WHERE

PERCENTILES = (50, 95, 99)
GAPS = ("demographic_parity_difference", "equalized_odds_difference")


@dataclass(frozen=True)
class Latency:
    requests: int = 0
    errors: int = 0  # 5xx answers, HAProxy's own included
    percentiles_ms: dict[str, float | None] = field(
        default_factory=lambda: {f"p{q}": None for q in PERCENTILES}
    )


@dataclass(frozen=True)
class VariantFigures:
    color: Color
    role: str  # live | candidate
    version: str | None
    traffic: Latency
    predictions: int
    positive_rate: float | None
    outcomes: int
    accuracy: float | None
    positive_outcome_rate: float | None
    correct: int = 0
    positive_outcomes: int = 0
    fairness: dict[str, dict[str, Any]] | None = None  # None: no sensitive-attribute store

    def counts(self, settings: SplitSettings) -> VariantCounts:
        """What the decision compares: accuracy or positive outcomes, and the fairness gap."""
        successes = self.correct if settings.metric == "accuracy" else self.positive_outcomes
        return VariantCounts(self.outcomes, successes, fairness_gap(self.fairness))


def fairness_gap(fairness: dict[str, dict[str, Any]] | None) -> float | None:
    """The largest fairness difference over every attribute; None where none was measured."""
    if fairness is None:
        return None
    found = [row[name] for row in fairness.values() for name in GAPS if row.get(name) is not None]
    return max(found) if found else None


def request_lines(log: Path, offset: int) -> dict[str, Latency]:
    """Per color: HAProxy's request lines (`greenlight-request <server> <status> <ms>`) after
    `offset` bytes of its log, counted and their latencies summarised."""
    if not log.is_file():
        return {}
    with log.open("rb") as stream:
        stream.seek(offset if offset <= log.stat().st_size else 0)  # a new log: read it all
        text = stream.read().decode(errors="replace")
    seen: dict[str, list[tuple[int, float]]] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[0] == REQUEST_LOG_TAG and parts[2].isdigit():
            seen.setdefault(parts[1], []).append((int(parts[2]), float(parts[3])))
    return {server: _latency(rows) for server, rows in seen.items()}


def _latency(rows: list[tuple[int, float]]) -> Latency:
    times = np.array([ms for _, ms in rows if ms >= 0], dtype=float)
    shown = {
        f"p{q}": round(float(np.percentile(times, q)), 1) if len(times) else None
        for q in PERCENTILES
    }
    return Latency(len(rows), sum(status >= 500 for status, _ in rows), shown)


def prediction_frame(path: Path, since: datetime) -> pd.DataFrame:
    """request id, record, label, probability of every line logged at or after `since`."""
    try:
        files = log_reader.log_files(path)
    except MissingLogError:
        files = []
    rows = [_row(file, number, text) for file in files for number, text in _lines(file)]
    frame = pd.DataFrame(rows, columns=[REQUEST_ID, LABEL, PROBABILITY, WHERE, TIMESTAMP])
    frame = log_reader.with_record_numbers(frame) if len(frame) else frame.assign(**{RECORD: 0})
    stamps = pd.to_datetime(frame[TIMESTAMP], utc=True, format="ISO8601")
    return frame[(stamps >= pd.Timestamp(since)).to_numpy()].reset_index(drop=True)


def _lines(file: Path) -> list[tuple[int, str]]:
    with file.open(encoding="utf-8") as lines:
        return [
            (n, text)
            for n, text in enumerate(lines, start=1)
            if text.endswith("\n") and text.strip()
        ]


def _row(file: Path, number: int, text: str) -> tuple[str, str, float, str, str]:
    logged = LoggedPrediction.parse(text, f"{file}:{number}")
    return (
        logged.request_id,
        logged.label,
        logged.probability,
        f"{file}:{number}",
        logged.timestamp,
    )


@dataclass(frozen=True)
class SplitRead:
    """Everything the figures of one split are computed from."""

    target: ProxiedTarget
    split: SplitModel
    live: Color
    sensitive: Path | None = None  # request_id, record and the sensitive attributes
    min_group_count: int = 30

    def model(self) -> Model:
        """The live color's model: its spec names the labels and the sensitive attributes."""
        if self.target.state().release(self.live) is None:
            raise outcomes.OutcomeError(f"{self.live} holds no release to read labels from")
        return read_model(self.target.bundle(self.live))


def recorded_outcomes(target: ProxiedTarget, labels: tuple[str, str]) -> pd.DataFrame:
    """Every outcome in either color's outcome log, each (request id, record) once."""
    paths = {target.outcome_log(color) for color in COLORS}
    found = {
        item.key: item for path in sorted(paths) for item in outcomes.read_outcome_log(path, labels)
    }
    return performance.outcome_frame(list(found.values()))


@dataclass(frozen=True)
class Known:
    """What both variants' figures share: the outcomes, the groups, the positive label."""

    outcomes: pd.DataFrame
    groups: pd.DataFrame | None
    positive: str
    since: datetime
    min_group_count: int


def variant_figures(read: SplitRead) -> dict[Color, VariantFigures]:
    """Both colors' figures since the split began, live first."""
    read.target.fetch_logs()
    model = read.model()
    labels = (model.spec.target.positive, model.spec.target.negative)
    known = Known(
        outcomes=recorded_outcomes(read.target, labels),
        groups=_groups(read, model),
        positive=labels[0],
        since=datetime.fromisoformat(read.split.started_at),
        min_group_count=read.min_group_count,
    )
    traffic = request_lines(read.target.proxy_log, read.split.log_offset)
    colors = (read.live, read.split.candidate)
    return {color: _one(read, color, traffic.get(color, Latency()), known) for color in colors}


def _groups(read: SplitRead, model: Model) -> pd.DataFrame | None:
    from greenlight.monitor.performance_job import read_sensitive  # noqa: PLC0415

    if read.sensitive is None:
        return None
    return read_sensitive(read.sensitive, list(model.spec.sensitive))


def _one(read: SplitRead, color: Color, traffic: Latency, known: Known) -> VariantFigures:
    predicted = prediction_frame(read.target.prediction_log(color), known.since)
    release = read.target.state().release(color)
    positives = int((predicted[LABEL] == known.positive).sum())
    return VariantFigures(
        color=color,
        role="candidate" if color == read.split.candidate else "live",
        version=release.version if release else None,
        traffic=traffic,
        predictions=len(predicted),
        positive_rate=_share(positives, len(predicted)),
        **_outcome_figures(performance.join(predicted, known.outcomes), known),
    )


def _outcome_figures(joined: pd.DataFrame, known: Known) -> dict[str, Any]:
    correct = int((joined[LABEL] == joined[performance.TRUTH]).sum())
    positives = int((joined[performance.TRUTH] == known.positive).sum())
    fairness = None
    if known.groups is not None:
        fairness = performance.fairness(joined, known.groups, known.positive, known.min_group_count)
    return {
        "outcomes": len(joined),
        "accuracy": _share(correct, len(joined)),
        "positive_outcome_rate": _share(positives, len(joined)),
        "correct": correct,
        "positive_outcomes": positives,
        "fairness": fairness,
    }


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 6) if whole else None
