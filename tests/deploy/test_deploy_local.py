"""The local target for real (HAProxy + service processes on 127.0.0.1), with the stub service:
every gate, the automatic rollback under load, the rollback command and the audit log."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from deploy_rig import (
    ANSWERS,
    STUB_COMMAND,
    LocalRig,
    deploy,
    local_rig,
    needs_haproxy,
    stub_bundle,
)

from greenlight.deploy.controller import Controller
from greenlight.deploy.runner import answers_lookup
from greenlight.deploy.settings import ShadowSettings
from greenlight.deploy.targets.local import open_local
from greenlight.errors import TargetBusyError
from tools.harness.load import SteadyLoad

pytestmark = [pytest.mark.slow, needs_haproxy]


@pytest.fixture
def stub_rig(tmp_path: Path) -> Iterator[LocalRig]:
    with local_rig(STUB_COMMAND, tmp_path / "bundles") as rig:
        yield rig


def served_version(rig: LocalRig) -> str:
    response = httpx.post(rig.url, json={"records": [ANSWERS[0]["record"]]}, timeout=5)
    response.raise_for_status()
    return str(response.json()["model_version"])


def steps(rig: LocalRig) -> dict[str, str]:
    """step -> result of the latest run."""
    entries = rig.audit()
    run = entries[-1].run
    return {entry.step: entry.result for entry in entries if entry.run == run}


def test_blue_green_switch_retires_the_old_color(stub_rig: LocalRig) -> None:
    first = deploy(stub_rig, stub_bundle(stub_rig.bundles, "v1"))
    assert (first.decision, first.color) == ("deployed", "blue")
    assert served_version(stub_rig) == "v1"
    second = deploy(stub_rig, stub_bundle(stub_rig.bundles, "v2"))
    assert (second.decision, second.color, second.previous_version) == ("deployed", "green", "v1")
    assert served_version(stub_rig) == "v2"
    with open_local(stub_rig.settings.local) as target:
        state = target.state()
    assert state.live == "green"
    assert not state.slots["blue"].running and state.slots["blue"].release.version == "v1"
    assert steps(stub_rig) == {
        "plan": "info", "start": "ok", "ready": "ok", "smoke:health": "ok",
        "smoke:known_answers": "ok", "smoke:latency": "ok", "switch": "ok", "watch": "ok",
        "retire": "ok", "decision": "ok",
    }  # fmt: skip


def test_a_version_that_never_becomes_ready_is_never_switched_to(stub_rig: LocalRig) -> None:
    deploy(stub_rig, stub_bundle(stub_rig.bundles, "v1"))
    rig = stub_rig.with_settings(readiness_deadline_s=3.0)
    outcome = deploy(rig, stub_bundle(rig.bundles, "v2", never_ready=True))
    assert outcome.decision == "rejected"
    assert served_version(rig) == "v1"
    ready = [entry for entry in rig.audit() if entry.step == "ready"][-1]
    assert ready.result == "failed" and "within the 3s deadline" in ready.reason
    assert (ready.version, ready.previous_version) == ("v2", "v1")
    assert steps(rig)["decision"] == "failed" and "switch" not in steps(rig)
    with open_local(rig.settings.local) as target:
        green = target.state().slots["green"]
    assert not green.running and green.release is None  # what green held before is restored


def test_a_crashing_version_is_rejected_before_the_deadline(stub_rig: LocalRig) -> None:
    deploy(stub_rig, stub_bundle(stub_rig.bundles, "v1"))
    started = time.monotonic()
    outcome = deploy(stub_rig, stub_bundle(stub_rig.bundles, "v2", exit_code=3))
    assert outcome.decision == "rejected"
    assert time.monotonic() - started < stub_rig.settings.readiness_deadline_s
    ready = [entry for entry in stub_rig.audit() if entry.step == "ready"][-1]
    assert "exited with code 3" in ready.reason
    assert served_version(stub_rig) == "v1"


def test_a_service_refusing_its_model_is_rejected_without_waiting(stub_rig: LocalRig) -> None:
    deploy(stub_rig, stub_bundle(stub_rig.bundles, "v1"))
    started = time.monotonic()
    outcome = deploy(stub_rig, stub_bundle(stub_rig.bundles, "v2", refuse="known answer 3 differs"))
    assert outcome.decision == "rejected"
    assert time.monotonic() - started < stub_rig.settings.readiness_deadline_s
    ready = [entry for entry in stub_rig.audit() if entry.step == "ready"][-1]
    assert ready.result == "failed" and "known answer 3 differs" in ready.reason
    assert served_version(stub_rig) == "v1"


def test_wrong_known_answers_are_never_switched_to(stub_rig: LocalRig) -> None:
    deploy(stub_rig, stub_bundle(stub_rig.bundles, "v1"))
    outcome = deploy(stub_rig, stub_bundle(stub_rig.bundles, "v2", skew=0.05))
    assert outcome.decision == "rejected"
    check = [entry for entry in stub_rig.audit() if entry.step == "smoke:known_answers"][-1]
    assert check.result == "failed"
    assert check.details["mismatches"] == [0, 1, 2, 3, 4]
    assert "Private" not in check.reason  # record values never reach the log
    assert served_version(stub_rig) == "v1"


def test_a_breach_after_the_switch_is_rolled_back_within_10_seconds(
    stub_rig: LocalRig, tmp_path: Path
) -> None:
    rig = stub_rig.with_watch(window_s=30.0)
    deploy(rig, stub_bundle(rig.bundles, "v1"))
    flag = tmp_path / "fail-now"
    bad = stub_bundle(rig.bundles, "v2", fail_flag=str(flag))
    with SteadyLoad(rig.url, ANSWERS[0]["record"], rate=50, max_seconds=90) as load:
        breach_at = trip_after_switch(rig, flag, deploy_in_thread(rig, bad))
        time.sleep(1.0)  # v1 answers again after the rollback
        answers = load.stop()
    rollback = next(entry for entry in rig.audit() if entry.step == "rollback")
    switched_back = datetime.fromisoformat(rollback.time).timestamp()
    print(f"rolled back {switched_back - breach_at:.2f}s after the breach")
    assert switched_back - breach_at <= 10.0
    failures = [answer for answer in answers if not answer.ok]
    assert failures, "the fault never reached a client: the test proved nothing"
    print(f"{len(answers)} answers, {len(failures)} failed during the breach")
    outside = [a for a in failures if a.sent < breach_at - 0.05 or a.sent > switched_back + 0.05]
    assert outside == [], outside[:5]
    assert all(answer.version == "v1" for answer in answers if answer.sent > switched_back + 0.05)
    assert steps(rig)["decision"] == "failed"
    assert served_version(rig) == "v1"


def deploy_in_thread(rig: LocalRig, bundle: Path) -> threading.Thread:
    thread = threading.Thread(target=deploy, args=(rig, bundle))
    thread.start()
    return thread


def trip_after_switch(rig: LocalRig, flag: Path, rollout: threading.Thread) -> float:
    """Create the fault flag as soon as the audit log shows the switch; return when (wall clock)."""
    deadline = time.monotonic() + 60
    while not any(entry.step == "switch" and entry.version == "v2" for entry in rig.audit()):
        assert time.monotonic() < deadline and rollout.is_alive(), "v2 never got switched to"
        time.sleep(0.05)
    time.sleep(1.0)  # v2 serves well for a moment first
    breach_at = time.time()
    flag.touch()
    rollout.join(timeout=60)
    assert not rollout.is_alive()
    return breach_at


def test_rollback_command_restores_the_previous_version(stub_rig: LocalRig) -> None:
    deploy(stub_rig, stub_bundle(stub_rig.bundles, "v1"))
    deploy(stub_rig, stub_bundle(stub_rig.bundles, "v2"))
    with open_local(stub_rig.settings.local) as target:
        controller = Controller(target, stub_rig.settings, echo=None)
        outcome = controller.rollback(answers_lookup("local", None))
    assert (outcome.decision, outcome.version, outcome.previous_version) == ("deployed", "v1", "v2")
    assert served_version(stub_rig) == "v1"
    plan = [entry for entry in stub_rig.audit() if entry.step == "plan"][-1]
    assert plan.reason.startswith("rollback to v1")
    assert steps(stub_rig)["smoke:known_answers"] == "ok"  # checked against v1's own answers


def test_shadow_traffic_disagreement_blocks_the_switch(stub_rig: LocalRig) -> None:
    rig = stub_rig.with_settings(shadow=ShadowSettings(seconds=2.0, min_agreement=0.9))
    deploy(rig, stub_bundle(rig.bundles, "v1"))
    unknown = {"age": 77, "workclass": "Private", "hours_per_week": 10}  # v1: 0.5, v2: 0.2
    with SteadyLoad(rig.url, unknown, rate=20, max_seconds=60):
        outcome = deploy(rig, stub_bundle(rig.bundles, "v2", default_probability=0.2))
    assert outcome.decision == "rejected"
    shadow = [entry for entry in rig.audit() if entry.step == "shadow"][-1]
    assert shadow.result == "failed" and shadow.details["agreement"] == 0.0
    assert shadow.details["records"] > 0


def test_a_second_deployment_is_refused_while_one_runs(stub_rig: LocalRig) -> None:
    local = stub_rig.settings.local
    with open_local(local), pytest.raises(TargetBusyError, match="another deployment"):
        open_local(local).__enter__()
