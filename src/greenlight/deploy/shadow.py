"""Shadow step (optional): for `shadow.seconds`, take the requests the live color answers, send the
same records to the idle color, and report how often both give the same label.

Targets mirror through a request feed: the local target tails the live color's prediction log
(format v1: a line per record with `features` and `prediction`), which already leaves out the
sensitive attributes. A target without a feed skips the step and says so."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from greenlight.deploy.settings import ShadowSettings
from greenlight.deploy.smoke import Check, PredictError, Sleep, predict
from greenlight.deploy.targets.base import Color, Target
from greenlight.logformat import LogFormatError, LoggedPrediction

BATCH = 100


@dataclass(frozen=True)
class Observed:
    """One live answer: the logged features and the label the live color gave."""

    record: dict[str, Any]
    label: str


def observed_from(lines: Sequence[str]) -> tuple[list[Observed], int]:
    """The predictions among `lines` (`LoggedPrediction`), and how many lines were not one: a
    line of another format or a broken one cannot be compared, so it is counted, not guessed."""
    observed, unreadable = [], 0
    for line in lines:
        try:
            logged = LoggedPrediction.parse(line, "live prediction log")
        except LogFormatError:
            unreadable += 1
            continue
        observed.append(Observed(record=dict(logged.features), label=logged.label))
    return observed, unreadable


def agreement(live: Sequence[str], shadow: Sequence[str]) -> float:
    """Share of records given the same label by both colors."""
    if len(live) != len(shadow) or not live:
        raise ValueError(f"need as many shadow labels as live ones ({len(shadow)} vs {len(live)})")
    return sum(1 for a, b in zip(live, shadow, strict=True) if a == b) / len(live)


def shadow_compare(
    target: Target, live: Color, idle: Color, settings: ShadowSettings, sleep: Sleep = time.sleep
) -> Check:
    feed = target.feed(live)
    if feed is None:
        return Check("shadow", True, f"skipped: the {target.name} target has no request feed")
    sleep(settings.seconds)
    observed, unreadable = observed_from(feed.read())
    observed = observed[: settings.max_records]
    if not observed:
        window = f"no live requests during the {settings.seconds:g}s window"
        return Check("shadow", True, window + _unreadable(unreadable), {"unreadable": unreadable})
    with target.client(idle) as client:
        try:
            labels = _replay(client, [item.record for item in observed])
        except PredictError as error:
            return Check("shadow", False, f"replaying live records failed: {error}")
    rate = agreement([item.label for item in observed], labels)
    return _judge(rate, len(observed), unreadable, settings)


def _replay(client: httpx.Client, records: Sequence[dict[str, Any]]) -> list[str]:
    labels: list[str] = []
    for start in range(0, len(records), BATCH):
        batch = records[start : start + BATCH]
        predictions = predict(client, batch).get("predictions", [])
        if len(predictions) != len(batch):
            raise PredictError(f"{len(predictions)} predictions for {len(batch)} records")
        labels.extend(str(item.get("label")) for item in predictions)
    return labels


def _unreadable(lines: int) -> str:
    return f" ({lines} log line(s) were not predictions and were not compared)" if lines else ""


def _judge(rate: float, count: int, unreadable: int, settings: ShadowSettings) -> Check:
    detail = f"{rate:.1%} of {count} live records got the same label" + _unreadable(unreadable)
    values = {"agreement": rate, "records": count, "unreadable": unreadable}
    if settings.min_agreement is None or rate >= settings.min_agreement:
        return Check("shadow", True, detail, values)
    return Check("shadow", False, f"{detail} (minimum {settings.min_agreement:.1%})", values)
