"""Waiting for a starting color: until the target reports it available and GET /readyz answers
200, the deadline passes, or it is clear that waiting longer will not help: the process exited, a
pod is crash-looping, or the service is up but refuses to serve its model."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from greenlight.deploy.smoke import Check, Clock, Sleep, answers_ok

POLL_SECONDS = 0.25
ERROR_CHARS = 200


@dataclass(frozen=True)
class Probes:
    """What the target can tell about a starting color besides its HTTP answers."""

    available: Callable[[], bool]  # everything it runs is up
    failure: Callable[[], str | None]  # why it will never become ready, if it will not


@dataclass
class Refusal:
    """A service that is up but answers /predict with 503 has refused its model (`greenlight
    serve` does so when the bundle fails its own known-answer check). Once it has refused for
    `grace_s` on end, the wait is over; a refusal that clears restarts the clock."""

    client: httpx.Client
    record: dict[str, Any]
    grace_s: float
    clock: Clock = time.monotonic
    since: float | None = None

    def settled(self) -> str | None:
        """The service's reason once it has refused for the whole grace period, else None."""
        reason = self._probe()
        if reason is None:
            self.since = None
            return None
        now = self.clock()
        self.since = now if self.since is None else self.since
        return reason if now - self.since >= self.grace_s else None

    def _probe(self) -> str | None:
        try:
            response = self.client.post("/predict", json={"records": [self.record]})
        except httpx.TransportError:
            return None  # not up yet: that is starting, not refusing
        if response.status_code != httpx.codes.SERVICE_UNAVAILABLE:
            return None
        return f"it answers /predict with 503: {_error_text(response)}"


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:ERROR_CHARS]
    error = body.get("error") if isinstance(body, dict) else None
    return str(error if error is not None else body)[:ERROR_CHARS]


def wait_ready(
    client: httpx.Client,
    deadline_s: float,
    probes: Probes,
    refusal: Refusal | None = None,
    *,
    clock: Clock = time.monotonic,
    sleep: Sleep = time.sleep,
) -> Check:
    """Poll every POLL_SECONDS until ready, a settled failure, or the deadline."""
    started = clock()
    while clock() - started < deadline_s:
        if probes.available() and answers_ok(client, "/readyz"):
            waited = clock() - started
            return Check("ready", True, f"/readyz answered 200 after {waited:.1f}s", {"s": waited})
        reason = probes.failure() or (refusal.settled() if refusal else None)
        if reason:
            waited = clock() - started
            return Check("ready", False, f"will not become ready: {reason}", {"s": waited})
        sleep(POLL_SECONDS)
    detail = f"/readyz did not answer 200 within the {deadline_s:g}s deadline"
    return Check("ready", False, detail, {"s": clock() - started})
