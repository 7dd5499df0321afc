"""Smoke checks of one ready color, over HTTP: health, the known answers recorded at training time,
and a latency budget. Check reasons name record indices, versions and timings, never record
values (a record can hold sensitive attributes)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from greenlight.deploy.settings import SmokeSettings
from greenlight.errors import InfrastructureError
from greenlight.known_answers import compare

Sleep = Callable[[float], None]
Clock = Callable[[], float]


@dataclass(frozen=True)
class KnownAnswer:
    record: dict[str, Any]
    probability: float


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str
    values: dict[str, Any] = field(default_factory=dict)


def known_answers_from(manifest: dict[str, Any]) -> list[KnownAnswer]:
    return [
        KnownAnswer(record=dict(item["record"]), probability=float(item["probability"]))
        for item in manifest.get("known_answers", [])
    ]


def smoke_test(
    client: httpx.Client,
    version: str,
    answers: Sequence[KnownAnswer] | None,
    settings: SmokeSettings,
    tolerance: float,
) -> list[Check]:
    """Health, the served version and the known answers (within `tolerance`: the service's own
    serving.known_answer_tolerance), and the latency budget."""
    return [
        check_health(client),
        check_known_answers(client, version, answers, tolerance),
        check_latency(client, answers, settings),
    ]


def answers_ok(client: httpx.Client, path: str) -> bool:
    try:
        return client.get(path).status_code == httpx.codes.OK
    except httpx.TransportError:
        return False  # not listening (yet, or any more)


def check_health(client: httpx.Client) -> Check:
    codes = {path: _status(client, "GET", path) for path in ("/livez", "/readyz")}
    healthy = all(code == httpx.codes.OK for code in codes.values())
    detail = ", ".join(f"{path} {code}" for path, code in codes.items())
    return Check("health", healthy, detail, {"status": codes})


def _status(client: httpx.Client, method: str, path: str) -> int | str:
    try:
        return client.request(method, path).status_code
    except httpx.TransportError as error:
        return type(error).__name__


def check_known_answers(
    client: httpx.Client, version: str, answers: Sequence[KnownAnswer] | None, tolerance: float
) -> Check:
    """One batch of the records recorded at training time; every probability within tolerance."""
    if not answers:
        return Check("known_answers", True, "skipped: no recorded answers for this version")
    try:
        body = predict(client, [answer.record for answer in answers])
    except PredictError as error:
        return Check("known_answers", False, str(error))
    return judge_answers(body, version, [answer.probability for answer in answers], tolerance)


class PredictError(InfrastructureError):
    """A /predict call that did not give a well-formed answer."""


def predict(
    client: httpx.Client, records: Sequence[dict[str, Any]], timeout_s: float | None = None
) -> dict[str, Any]:
    timeout = httpx.USE_CLIENT_DEFAULT if timeout_s is None else timeout_s
    try:
        response = client.post("/predict", json={"records": list(records)}, timeout=timeout)
    except httpx.TransportError as error:
        raise PredictError(f"/predict failed: {type(error).__name__}: {error}") from error
    if response.status_code != httpx.codes.OK:
        raise PredictError(f"/predict answered {response.status_code}")
    try:
        return dict(response.json())
    except ValueError as error:
        raise PredictError(f"/predict answered a body that is not JSON: {error}") from error


def judge_answers(
    body: dict[str, Any], version: str, recorded: Sequence[float], tolerance: float
) -> Check:
    """Pure: compare a /predict answer with the version and probabilities recorded in training."""
    served_version = body.get("model_version")
    if served_version != version:
        return Check("known_answers", False, f"serves version {served_version!r}, not {version!r}")
    served = [item.get("probability") for item in body.get("predictions", [])]
    if len(served) != len(recorded):
        detail = f"{len(served)} predictions for {len(recorded)} records"
        return Check("known_answers", False, detail)
    comparison = compare(served, recorded, tolerance)
    wrong, worst = comparison.wrong, comparison.worst
    values = {"records": len(recorded), "mismatches": wrong, "max_gap": worst}
    if wrong:
        detail = f"records {wrong} differ from training by up to {worst:.3g} (tol. {tolerance:g})"
        return Check("known_answers", False, detail, values)
    return Check("known_answers", True, f"{len(recorded)} records within {tolerance:g}", values)


def check_latency(
    client: httpx.Client, answers: Sequence[KnownAnswer] | None, settings: SmokeSettings
) -> Check:
    """p95 of single-record /predict calls (GET /readyz when no record is known) vs the budget."""
    timings = [_timed_call(client, answers) for _ in range(settings.latency_requests)]
    failed = sum(1 for seconds in timings if seconds is None)
    if failed:
        return Check("latency", False, f"{failed} of {len(timings)} timed requests failed")
    p95 = percentile([seconds * 1000 for seconds in timings if seconds is not None], 95)
    budget = settings.latency_budget_ms
    detail = f"p95 {p95:.1f} ms over {len(timings)} requests (budget {budget:g} ms)"
    return Check("latency", p95 <= budget, detail, {"p95_ms": p95})


def _timed_call(client: httpx.Client, answers: Sequence[KnownAnswer] | None) -> float | None:
    started = time.perf_counter()
    try:
        if answers:
            predict(client, [answers[0].record])
        elif not answers_ok(client, "/readyz"):
            return None
    except PredictError:
        return None
    return time.perf_counter() - started


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile: the smallest value with at least `share`% of values at or below."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(share / 100 * len(ordered)))
    return ordered[rank - 1]
