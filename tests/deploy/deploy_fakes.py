"""In-memory stand-ins for the controller tests: a service per color answering over httpx's
MockTransport, a fake clock, and a target that records what the controller asked of it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx

from greenlight.deploy.targets.base import COLORS, Color, Release, Slot, TargetState, Traffic

RECORDS = [{"age": 20 + n, "workclass": "Private"} for n in range(3)]
PROBABILITIES = [0.2, 0.6, 0.9]


@dataclass
class FakeClock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class FakeService:
    version: str
    ready: bool = True
    skew: float = 0.0
    predict_status: int = 200  # e.g. 500 to fail, 503 to refuse
    requests: int = 0
    errors: int = 0

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/livez":
            return httpx.Response(200, json={})
        if path == "/readyz":
            return httpx.Response(200 if self.ready else 503, json={})
        if path == "/predict":
            return self._predict(json.loads(request.content)["records"])
        return httpx.Response(404)

    def _predict(self, records: list[dict[str, Any]]) -> httpx.Response:
        if self.predict_status != 200:
            return httpx.Response(self.predict_status, json={"error": "not ready: injected"})
        known = {
            json.dumps(r, sort_keys=True): p for r, p in zip(RECORDS, PROBABILITIES, strict=True)
        }
        probabilities = [known.get(json.dumps(r, sort_keys=True), 0.5) + self.skew for r in records]
        predictions = [{"label": "1" if p >= 0.5 else "0", "probability": p} for p in probabilities]
        return httpx.Response(200, json={"model_version": self.version, "predictions": predictions})


@dataclass
class FakeTarget:
    """Colors hold FakeServices; `calls` lists what the controller did, in order."""

    name: str = "fake"
    live: Color | None = None
    services: dict[Color, FakeService | None] = field(default_factory=lambda: dict.fromkeys(COLORS))
    releases: dict[Color, Release | None] = field(default_factory=lambda: dict.fromkeys(COLORS))
    calls: list[tuple[str, str]] = field(default_factory=list)
    make_service: Any = None  # release -> FakeService, set by the test
    on_switch: Any = None  # called after each switch, e.g. to start failing

    def state(self) -> TargetState:
        slots = {c: Slot(c, self.releases[c], self.services[c] is not None) for c in COLORS}
        return TargetState(live=self.live, slots=slots)

    def start(self, color: Color, release: Release) -> None:
        self.calls.append(("start", color))
        self.services[color] = self.make_service(release)
        self.releases[color] = release

    def available(self, color: Color) -> bool:
        return self.services[color] is not None

    def failure(self, color: Color) -> str | None:
        return None

    def client(self, color: Color) -> httpx.Client:
        service = self.services[color]
        assert service is not None, f"{color} is not running"
        return httpx.Client(base_url="http://fake", transport=httpx.MockTransport(service.handle))

    def traffic(self, color: Color) -> Traffic:
        service = self.services[color]
        return Traffic(service.requests, service.errors) if service else Traffic(0, 0)

    def switch(self, color: Color) -> None:
        self.calls.append(("switch", color))
        self.live = color
        if self.on_switch:
            self.on_switch(self, color)

    def stop(self, color: Color, keep: Release | None) -> None:
        self.calls.append(("stop", color))
        self.services[color] = None
        self.releases[color] = keep

    def feed(self, color: Color) -> None:
        return None
