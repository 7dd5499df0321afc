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
from greenlight.logformat import LOG_FORMAT

BATCH = 100


@dataclass(frozen=True)
class Observed:
    """One live answer: the logged features and the label the live color gave."""

    record: dict[str, Any]
    label: str


def observed_from(lines: Sequence[dict[str, Any]]) -> list[Observed]:
    """Prediction-log lines in a format this code reads; other lines are not comparable."""
    return [
        Observed(record=dict(line["features"]), label=str(line["prediction"]["label"]))
        for line in lines
        if line.get("log_format") == LOG_FORMAT and "features" in line and "prediction" in line
    ]


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
    observed = observed_from(feed.read())[: settings.max_records]
    if not observed:
        return Check("shadow", True, f"no live requests during the {settings.seconds:g}s window")
    with target.client(idle) as client:
        try:
            labels = _replay(client, [item.record for item in observed])
        except PredictError as error:
            return Check("shadow", False, f"replaying live records failed: {error}")
    return _judge(agreement([item.label for item in observed], labels), len(observed), settings)


def _replay(client: httpx.Client, records: Sequence[dict[str, Any]]) -> list[str]:
    labels: list[str] = []
    for start in range(0, len(records), BATCH):
        batch = records[start : start + BATCH]
        predictions = predict(client, batch).get("predictions", [])
        if len(predictions) != len(batch):
            raise PredictError(f"{len(predictions)} predictions for {len(batch)} records")
        labels.extend(str(item.get("label")) for item in predictions)
    return labels


def _judge(rate: float, count: int, settings: ShadowSettings) -> Check:
    detail = f"{rate:.1%} of {count} live records got the same label"
    values = {"agreement": rate, "records": count}
    if settings.min_agreement is None or rate >= settings.min_agreement:
        return Check("shadow", True, detail, values)
    return Check("shadow", False, f"{detail} (minimum {settings.min_agreement:.1%})", values)
