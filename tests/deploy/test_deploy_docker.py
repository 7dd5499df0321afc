"""The docker target with a real engine and registry (docker_rig.py says which, and skips with the
reason when either is missing): stub images pushed to the registry and deployed by digest, a
rollout under keep-alive load, a container killed after the switch, `status` and `down`."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import psutil
import pytest
from deploy_rig import ANSWERS
from docker_rig import DockerRig, deploy, docker, docker_rig, docker_target, needs_engine, push_stub
from docker_rig import rollback as roll_back

from greenlight.deploy.controller import Outcome
from tools.harness.load import SteadyLoad

pytestmark = [pytest.mark.slow, needs_engine]
RECORD = ANSWERS[0]["record"]


@pytest.fixture(scope="module")
def images() -> Iterator[dict[str, str]]:
    """v1 and v2 of the stub, pushed; removed from the engine afterwards (the registry keeps the
    blobs under one repository name, which the next run reuses)."""
    pushed: dict[str, str] = {}
    try:
        for version in ("v1", "v2"):
            pushed[version] = push_stub(version)
        yield pushed
    finally:
        for reference in pushed.values():
            docker("rmi", reference, check=False)


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[DockerRig]:
    with docker_rig(tmp_path / "bundles") as created:
        yield created


def running_image(rig: DockerRig, color: str) -> str:
    return docker("inspect", "--format", "{{.Config.Image}}", rig.name(color)).strip()


def test_a_rollout_under_keep_alive_load_loses_no_request_and_rollback_brings_the_digest_back(
    rig: DockerRig, images: dict[str, str]
) -> None:
    assert deploy(rig, "v1", images["v1"]).ok
    assert running_image(rig, "blue") == images["v1"]  # what runs is the digest, not a tag
    load = SteadyLoad(rig.url, RECORD, rate=20, clients=2, max_seconds=240)
    with load:
        time.sleep(1.0)
        started = time.monotonic()
        upgrade = deploy(rig, "v2", images["v2"])
        rollout_s = time.monotonic() - started
        time.sleep(1.0)
        answers = load.stop()
    assert upgrade.decision == "deployed", upgrade.reason
    failed = [answer for answer in answers if not answer.ok]
    print(f"\n{len(answers)} requests at 20/s from 2 keep-alive clients, {len(failed)} failed;")
    print(
        f"rollout v1 -> v2 (start, ready, smoke, switch, 3 s watch, drain, stop): {rollout_s:.1f} s"
    )
    if failed:  # when they failed, beside what the controller was doing
        print([(f"{a.sent:.2f}", a.status, a.error) for a in failed[:3]], failed[-1].sent)
        print([(entry_time(e.time), e.step, e.reason) for e in rig.audit()[-12:]])
        print((rig.settings.docker.state_dir / "haproxy.log").read_text()[-3000:])
    assert len(answers) == load.sent and failed == [], failed[:5]
    versions = [answer.version for answer in answers]
    assert set(versions) == {"v1", "v2"} and "v1" not in versions[versions.index("v2") + 4 :]
    assert running_image(rig, "green") == images["v2"]
    assert not docker("ps", "--quiet", "--filter", f"name=^{rig.name('blue')}$").strip()
    back = roll_back(rig, rig.bundles / "v1")
    assert back.decision == "deployed" and back.version == "v1", back.reason
    assert running_image(rig, "blue") == images["v1"]


def test_a_container_killed_after_the_switch_is_rolled_back_within_10_s(
    rig: DockerRig, images: dict[str, str]
) -> None:
    assert deploy(rig, "v1", images["v1"]).ok
    watched = rig.with_watch(window_s=60.0, interval_s=0.5, max_canary_failures=2)
    outcome: list[Outcome] = []
    rollout = threading.Thread(target=lambda: outcome.append(deploy(watched, "v2", images["v2"])))
    rollout.start()
    try:
        wait_for_step(rig, "switch", timeout_s=180)
        docker("kill", rig.name("green"))
        killed = time.time()
    finally:
        rollout.join(timeout=240)
    assert outcome and outcome[0].decision == "rolled_back", outcome
    entry = next(e for e in rig.audit() if e.step == "rollback" and e.version == "v2")
    after_s = entry_time(entry.time) - killed
    print(f"\ngreen killed after the switch: traffic back on blue {after_s:.1f} s later")
    assert after_s < 10.0
    answer = httpx.post(rig.url, json={"records": [RECORD]}, timeout=10).json()
    assert answer["model_version"] == "v1"


def test_status_shows_a_killed_container_as_dead_and_down_leaves_nothing(
    rig: DockerRig, images: dict[str, str]
) -> None:
    assert deploy(rig, "v1", images["v1"]).ok
    with docker_target(rig) as target:
        proxy = json.loads((rig.settings.docker.state_dir / "state.json").read_text())["proxy"]
        assert target.state().slots["blue"].running
    docker("kill", rig.name("blue"))
    shown = rig.cli("status", "--target", "docker")
    assert shown.returncode == 0, shown.stderr
    blue = json.loads(shown.stdout[: shown.stdout.rindex("}") + 1])["colors"]["blue"]
    assert blue["running"] is False and blue["condition"].startswith("dead:"), blue
    assert "exit code 137" in blue["condition"], blue  # SIGKILL, as the engine recorded it
    done = rig.cli("down", "--target", "docker")
    assert done.returncode == 0, done.stderr
    assert rig.ours() == []  # no container, no volume of ours
    assert gone(proxy["pid"])  # HAProxy stopped (this test's child: a zombie until reaped)


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def wait_for_step(rig: DockerRig, step: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if any(entry.step == step and entry.version == "v2" for entry in rig.audit()):
            return
        time.sleep(0.05)
    raise AssertionError(f"no {step} step within {timeout_s:g} s: {rig.audit()[-3:]}")


def entry_time(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()
