"""After the switch: watch the new color's error rate (from the router's counters, i.e. what real
clients got) and its latency (from a canary request per tick) for the watch window; the first
breach ends the watch so the controller can switch back at once. The new color's processes dying
(`Target.available` turning false) is a breach too."""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from greenlight.deploy.settings import WatchSettings
from greenlight.deploy.smoke import Clock, PredictError, Sleep, predict
from greenlight.deploy.targets.base import Color, Target

CANARY_LATENCY_SPAN = 3  # the latency verdict is the median of this many recent canary calls


@dataclass(frozen=True)
class Sample:
    at: float
    requests: int
    errors: int


@dataclass(frozen=True)
class WatchReport:
    breach: str | None
    seconds: float
    requests: int
    errors: int
    canary_ms: list[float | None] = field(default_factory=list)


def recent_counts(samples: Sequence[Sample], span_s: float) -> tuple[int, int]:
    """Requests and errors between the last sample and the newest one at least `span_s` older
    (or the first one). Counters that went backwards (a restarted process) count from zero."""
    last = samples[-1]
    older = [sample for sample in samples if last.at - sample.at >= span_s]
    base = older[-1] if older else samples[0]
    requests = last.requests - base.requests if last.requests >= base.requests else last.requests
    errors = last.errors - base.errors if last.errors >= base.errors else last.errors
    return requests, errors


def error_breach(samples: Sequence[Sample], settings: WatchSettings) -> str | None:
    requests, errors = recent_counts(samples, settings.error_window_s)
    if requests < settings.min_requests:
        return None
    rate = errors / requests
    if rate <= settings.max_error_rate:
        return None
    return (
        f"error rate {rate:.1%} ({errors} of {requests} requests in the last "
        f"{settings.error_window_s:g}s) exceeds {settings.max_error_rate:.1%}"
    )


def canary_breach(canary_ms: Sequence[float | None], settings: WatchSettings) -> str | None:
    """None marks a failed canary call; a run of them, or slow recent calls, is a breach."""
    failures = settings.max_canary_failures
    if len(canary_ms) >= failures and all(ms is None for ms in canary_ms[-failures:]):
        return f"the last {failures} canary requests failed"
    recent = canary_ms[-CANARY_LATENCY_SPAN:]
    if len(recent) < CANARY_LATENCY_SPAN or any(ms is None for ms in recent):
        return None
    median = statistics.median(ms for ms in recent if ms is not None)
    if median <= settings.max_latency_ms:
        return None
    limit = settings.max_latency_ms
    return f"canary latency {median:.0f} ms (median of {len(recent)}) exceeds {limit:g} ms"


def gone_breach(target: Target, color: Color) -> str | None:
    """A color whose processes died (its supervisor, a replica) is a breach even while what is
    left of it still answers: nothing would restart a worker that dies next."""
    if target.available(color):
        return None
    return f"{color} is no longer running: {target.failure(color) or 'not available'}"


def canary_call(
    client: httpx.Client, record: dict[str, Any] | None, timeout_s: float
) -> float | None:
    """Milliseconds of one /predict call with a known record (/readyz without one); None if it
    failed."""
    started = time.perf_counter()
    try:
        if record is not None:
            predict(client, [record], timeout_s)
        elif client.get("/readyz", timeout=timeout_s).status_code != httpx.codes.OK:
            return None
    except (PredictError, httpx.TransportError):
        return None
    return (time.perf_counter() - started) * 1000


def watch(
    target: Target,
    color: Color,
    record: dict[str, Any] | None,
    settings: WatchSettings,
    *,
    clock: Clock = time.monotonic,
    sleep: Sleep = time.sleep,
) -> WatchReport:
    """Tick every interval until the window ends or the first breach."""
    started = clock()
    samples = [_sample(target, color, started)]
    canary: list[float | None] = []
    timeout_s = 2 * settings.max_latency_ms / 1000
    with target.client(color) as client:
        while clock() - started < settings.window_s:
            sleep(settings.interval_s)
            samples.append(_sample(target, color, clock()))
            canary.append(canary_call(client, record, timeout_s))
            breach = (
                gone_breach(target, color)
                or error_breach(samples, settings)
                or canary_breach(canary, settings)
            )
            if breach:
                break
        else:
            breach = None
    return _report(breach, samples, canary, clock() - started)


def _sample(target: Target, color: Color, at: float) -> Sample:
    traffic = target.traffic(color)
    return Sample(at=at, requests=traffic.requests, errors=traffic.errors)


def _report(
    breach: str | None, samples: list[Sample], canary: list[float | None], seconds: float
) -> WatchReport:
    requests, errors = recent_counts(samples, span_s=float("inf"))
    return WatchReport(breach, seconds, requests, errors, canary)
