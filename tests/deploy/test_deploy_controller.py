"""The state machine's decisions, against an in-memory target and a fake clock: what is switched,
what is stopped, what is kept for a rollback, and what the audit log says."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from deploy_fakes import PROBABILITIES, RECORDS, FakeClock, FakeService, FakeTarget

from greenlight.deploy.audit import read_entries
from greenlight.deploy.controller import Candidate, Controller, DeployError
from greenlight.deploy.settings import DeploySettings, WatchSettings
from greenlight.deploy.smoke import KnownAnswer
from greenlight.deploy.targets.base import Release

ANSWERS = [KnownAnswer(r, p) for r, p in zip(RECORDS, PROBABILITIES, strict=True)]


def candidate(version: str) -> Candidate:
    return Candidate(Release(version, f"/bundles/{version}"), ANSWERS)


@pytest.fixture
def settings(tmp_path: Path) -> DeploySettings:
    watch = WatchSettings(window_s=10, interval_s=1, error_window_s=3, min_requests=5)
    return DeploySettings(readiness_deadline_s=5, audit_log=tmp_path / "audit.jsonl", watch=watch)


def controller(target: FakeTarget, settings: DeploySettings) -> Controller:
    clock = FakeClock()
    return Controller(target, settings, echo=None, clock=clock, sleep=clock.sleep)


def healthy(release: Release) -> FakeService:
    return FakeService(release.version)


def live_target(settings: DeploySettings) -> FakeTarget:
    """v1 live on blue, deployed through the controller itself."""
    target = FakeTarget(make_service=healthy)
    assert controller(target, settings).deploy(candidate("v1")).ok
    target.calls.clear()
    return target


def steps(settings: DeploySettings) -> list[tuple[str, str]]:
    entries = read_entries(settings.audit_log)
    return [(entry.step, entry.result) for entry in entries if entry.run == entries[-1].run]


def test_first_deployment_goes_live_without_a_watch(settings: DeploySettings) -> None:
    target = FakeTarget(make_service=healthy)
    outcome = controller(target, settings).deploy(candidate("v1"))
    assert (outcome.decision, outcome.color, outcome.previous_version) == ("deployed", "blue", None)
    assert target.calls == [("start", "blue"), ("switch", "blue")]
    assert ("watch", "skipped") in steps(settings)


def test_a_good_release_switches_then_retires_the_old_color(
    settings: DeploySettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_ACTOR", "release-bot")
    target = live_target(settings)
    outcome = controller(target, settings).deploy(candidate("v2"))
    assert (outcome.decision, outcome.color, outcome.previous_version) == (
        "deployed",
        "green",
        "v1",
    )
    assert target.calls == [("start", "green"), ("switch", "green"), ("stop", "blue")]
    assert target.releases["blue"] == Release("v1", "/bundles/v1")  # kept for a rollback
    assert [step for step, _ in steps(settings)] == [
        *("plan", "start", "ready"),
        *("smoke:health", "smoke:known_answers", "smoke:latency"),
        *("switch", "watch", "retire", "decision"),
    ]
    entry = read_entries(settings.audit_log)[-1]
    assert (entry.version, entry.previous_version, entry.actor) == ("v2", "v1", "release-bot")
    assert datetime.fromisoformat(entry.time).tzinfo is not None  # a UTC time, not just text


def test_never_ready_is_rejected_and_the_idle_color_gets_its_release_back(
    settings: DeploySettings,
) -> None:
    target = live_target(settings)
    target.make_service = lambda release: FakeService(release.version, ready=False)
    outcome = controller(target, settings).deploy(candidate("v2"))
    assert outcome.decision == "rejected"
    assert ("switch", "green") not in target.calls and target.live == "blue"
    assert target.releases["green"] is None and target.services["green"] is None
    assert ("ready", "failed") in steps(settings)


def test_a_refusing_service_is_rejected_before_the_deadline(settings: DeploySettings) -> None:
    target = live_target(settings)
    target.make_service = lambda release: FakeService(release.version, False, predict_status=503)
    outcome = controller(target, settings.model_copy(update={"readiness_deadline_s": 600})).deploy(
        candidate("v2")
    )
    ready = next(e for e in read_entries(settings.audit_log)[::-1] if e.step == "ready")
    assert outcome.decision == "rejected"
    assert "answers /predict with 503: not ready: injected" in ready.reason
    assert ready.details["s"] < 600


@pytest.mark.parametrize(
    ("service", "failed_check"),
    [
        (lambda r: FakeService(r.version, skew=0.01), "smoke:known_answers"),
        (lambda r: FakeService("v-other"), "smoke:known_answers"),
        (lambda r: FakeService(r.version, predict_status=500), "smoke:latency"),
    ],
)
def test_a_failed_smoke_check_is_never_switched_to(
    settings: DeploySettings, service: object, failed_check: str
) -> None:
    target = live_target(settings)
    target.make_service = service
    outcome = controller(target, settings).deploy(candidate("v2"))
    assert outcome.decision == "rejected"
    assert target.live == "blue" and ("switch", "green") not in target.calls
    assert (failed_check, "failed") in steps(settings)
    assert steps(settings)[-1] == ("decision", "failed")


def test_a_breach_after_the_switch_switches_back_and_stops_the_new_color(
    settings: DeploySettings,
) -> None:
    target = live_target(settings)

    def start_failing(fake: FakeTarget, color: str) -> None:
        if color == "green":
            service = fake.services["green"]
            service.requests, service.errors = 100, 40  # what the router counted since
            service.predict_status = 500

    target.on_switch = start_failing
    outcome = controller(target, settings).deploy(candidate("v2"))
    assert outcome.decision == "rolled_back"
    assert target.calls == [
        ("start", "green"),
        ("switch", "green"),
        ("switch", "blue"),
        ("stop", "green"),
    ]
    assert target.live == "blue" and target.releases["green"] is None
    watch = next(e for e in read_entries(settings.audit_log)[::-1] if e.step == "watch")
    assert watch.result == "failed" and "failed" in watch.reason
    assert ("rollback", "ok") in steps(settings)


def test_a_new_color_whose_processes_die_in_the_watch_is_switched_back(
    settings: DeploySettings,
) -> None:
    """Its supervisor died, its orphaned worker still answers every request: still a breach."""
    target = live_target(settings)

    def supervisor_dies(fake: FakeTarget, color: str) -> None:
        if color == "green":
            fake.available = lambda c: c != "green"  # type: ignore[method-assign]
            fake.failure = lambda c: "process 4242 exited" if c == "green" else None  # type: ignore[method-assign]

    target.on_switch = supervisor_dies
    outcome = controller(target, settings).deploy(candidate("v2"))
    assert outcome.decision == "rolled_back" and target.live == "blue"
    watch = next(e for e in read_entries(settings.audit_log)[::-1] if e.step == "watch")
    assert watch.reason == "green is no longer running: process 4242 exited"


def test_an_error_rate_breach_is_measured_on_router_counts(settings: DeploySettings) -> None:
    target = live_target(settings)
    ticks = iter(range(1000))

    def traffic(color: str) -> object:
        from greenlight.deploy.targets.base import Traffic

        tick = next(ticks)
        return Traffic(requests=50 * tick, errors=10 * max(0, tick - 3))  # 20% errors from tick 4

    target.traffic = traffic
    outcome = controller(target, settings).deploy(candidate("v2"))
    watch = next(e for e in read_entries(settings.audit_log)[::-1] if e.step == "watch")
    assert outcome.decision == "rolled_back"
    assert "error rate" in watch.reason and "exceeds 5.0%" in watch.reason


def test_an_interruption_before_the_switch_stops_the_idle_color(settings: DeploySettings) -> None:
    target = live_target(settings)

    def explode(release: Release) -> FakeService:
        service = FakeService(release.version)
        service.handle = lambda request: (_ for _ in ()).throw(KeyboardInterrupt)
        return service

    target.make_service = explode
    with pytest.raises(KeyboardInterrupt):
        controller(target, settings).deploy(candidate("v2"))
    assert target.live == "blue" and target.services["green"] is None
    assert steps(settings)[-1] == ("abort", "failed")


def test_rollback_brings_back_what_the_idle_color_holds(settings: DeploySettings) -> None:
    target = live_target(settings)
    controller(target, settings).deploy(candidate("v2"))
    asked: list[Release] = []

    def answers(release: Release) -> list[KnownAnswer]:
        asked.append(release)
        return ANSWERS

    outcome = controller(target, settings).rollback(answers)
    assert (outcome.decision, outcome.version, outcome.color) == ("deployed", "v1", "blue")
    assert asked == [Release("v1", "/bundles/v1")]
    assert read_entries(settings.audit_log)[-1].previous_version == "v2"


def test_rollback_with_nothing_before_is_an_error(settings: DeploySettings) -> None:
    target = FakeTarget(make_service=healthy)
    with pytest.raises(DeployError, match="no previous release"):
        controller(target, settings).rollback(lambda release: None)


def test_a_dead_live_color_is_no_fallback(settings: DeploySettings) -> None:
    target = live_target(settings)
    target.services["blue"] = None  # its process died
    outcome = controller(target, settings).deploy(candidate("v2"))
    assert outcome.decision == "deployed"
    assert ("watch", "skipped") in steps(settings)


def test_a_failure_after_the_switch_is_recorded_with_what_it_leaves(
    settings: DeploySettings,
) -> None:
    target = live_target(settings)

    def router_gone(color: str) -> object:
        raise OSError("connection refused: haproxy.sock")

    target.traffic = router_gone
    with pytest.raises(OSError, match=r"haproxy\.sock"):
        controller(target, settings).deploy(candidate("v2"))
    abort = read_entries(settings.audit_log)[-1]
    assert (abort.step, abort.result) == ("abort", "failed")
    assert "OSError: connection refused" in abort.reason and "traffic is on green" in abort.reason
    assert target.services["blue"] is not None  # the old color still runs, ready to take back
