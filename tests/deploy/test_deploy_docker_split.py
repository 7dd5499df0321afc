"""The A/B split on the docker target, without an engine: the docker CLI played by processes of
ours (docker_fake_engine.py), a real HAProxy in front. 2,000 requests at 20 %, pins by header and
caller id, the per-variant figures from the logs the target copies out of its "containers", a
restarted HAProxy that keeps the split, `decide` promoting a better candidate and rolling a worse
one back, and `down` ending the split. The last test runs the same with a real engine and
registry (stub images, outcomes by POST /feedback through the proxy), or skips saying why."""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from deploy_rig import needs_haproxy
from docker_fake_engine import ProcessEngine
from docker_rig import DockerRig, docker, docker_rig, needs_engine, push_stub, rig_settings
from docker_rig import deploy as docker_deploy
from split_traffic import (
    BETTER,
    CONSTANT,
    NEGATIVE,
    NOISE,
    POSITIVE,
    WORSE,
    Headers,
    label_log,
    logged_at,
    record,
    spec_bundle,
    spec_manifest,
)
from split_traffic import send as send_to

from greenlight.deploy.controller import Controller, Outcome
from greenlight.deploy.runner import bundle_candidate
from greenlight.deploy.settings import DeploySettings, SplitSettings
from greenlight.deploy.split import Decision, split_status
from greenlight.deploy.targets import processes
from greenlight.deploy.targets.docker import DockerTarget
from greenlight.deploy.targets.docker_state import DockerState

pytestmark = [pytest.mark.slow, needs_haproxy]


@dataclass
class FakeDockerRig:
    settings: DeploySettings
    engine: ProcessEngine
    bundles: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.settings.docker.proxy_port}/predict"

    def target(self) -> DockerTarget:
        target = DockerTarget(self.settings.docker, self.engine)  # type: ignore[arg-type]
        target.ensure_proxy()
        return target

    def deploy(self, version: str, faults: dict[str, Any], split: int | None = None) -> Outcome:
        bundle = spec_bundle(self.bundles, version, faults)
        image = f"127.0.0.1:5000/stub@sha256:{version.encode().hex():0<64}"
        self.engine.images[image] = bundle
        controller = Controller(self.target(), self.settings, echo=None)
        return controller.deploy(bundle_candidate(bundle, image), split=split)

    def logs(self, color: str) -> Path:
        return self.engine.inside(
            f"{self.settings.docker.name_prefix}-{color}", "/var/log/greenlight"
        )

    def send(self, count: int, headers: Headers = None, seed: int = 0) -> Counter[str]:
        return send_to(self.url, count, headers, seed)

    def report_outcomes(self, seed: int) -> int:
        """The true labels, appended to each container's outcome log (in its volume)."""
        noise = np.random.default_rng(seed)
        logs = [self.logs(color) for color in ("blue", "green")]
        return sum(label_log(d / "predictions.jsonl", d / "outcomes.jsonl", noise) for d in logs)

    def decide(self) -> str:
        return Decision(self.target(), self.settings, echo=None).run().action


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[FakeDockerRig]:
    state = Path(tempfile.mkdtemp(prefix="gl-fd-"))  # short: HAProxy's admin socket lives there
    settings = rig_settings(state, SplitSettings(min_samples=100, alpha=0.01))
    engine = ProcessEngine(tmp_path / "engine", {})
    created = FakeDockerRig(settings, engine, tmp_path / "bundles")
    try:
        yield created
    finally:
        try:
            DockerTarget(settings.docker, engine).down()  # type: ignore[arg-type]
        finally:
            engine.close()
            shutil.rmtree(state, ignore_errors=True)


def test_a_docker_split_delivers_its_share_pins_and_survives_a_proxy_restart(
    rig: FakeDockerRig,
) -> None:
    assert rig.deploy("v1", CONSTANT).decision == "deployed"
    assert rig.deploy("v2", BETTER, split=20).decision == "splitting"
    before = {
        color: len(logged_at(rig.logs(color) / "predictions.jsonl")) for color in ("blue", "green")
    }
    hashed = rig.send(2000, headers=lambda n: {"X-Caller-Id": f"caller-{n}"})
    share = hashed["green"] / 2000
    print(
        f"docker, 2000 requests, one caller each, at 20%: candidate {hashed['green']} ({share:.1%})"
    )
    assert 0.17 <= share <= 0.23, hashed
    after = {color: len(logged_at(rig.logs(color) / "predictions.jsonl")) for color in before}
    assert {color: after[color] - before[color] for color in before} == dict(hashed)
    for pin, color in (("candidate", "green"), ("live", "blue"), ("BLUE", "blue")):
        assert rig.send(30, headers=lambda n, p=pin: {"X-Greenlight-Variant": p}) == {color: 30}
    for caller in range(20):  # one caller never flips between variants
        assert len(rig.send(10, headers=lambda n, c=caller: {"X-Caller-Id": f"c{c}"})) == 1
    shown = split_status(Decision(rig.target(), rig.settings, echo=None))
    assert shown is not None and (shown["candidate"], shown["percent"]) == ("green", 20)
    green = shown["variants"]["green"]
    assert green["traffic"]["requests"] == green["predictions"] >= hashed["green"]
    assert green["version"] == "v2" and green["positive_rate"] > 0.4

    callers = [{"X-Caller-Id": f"caller-{caller}"} for caller in range(0, 2000, 50)]
    where = [rig.send(1, headers=lambda n, h=pin: h) for pin in callers]
    haproxy = DockerState.load(rig.settings.docker.state_dir / "state.json").proxy
    assert haproxy is not None
    os.kill(haproxy.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while processes.alive(haproxy.record()) and time.monotonic() < deadline:
        time.sleep(0.05)  # the signal is delivered asynchronously
    target = rig.target()  # restarts HAProxy from its config
    assert target.restarted_proxy and target.current_split() is not None
    assert [rig.send(1, headers=lambda n, h=pin: h) for pin in callers] == where


def test_docker_decide_promotes_a_better_candidate_and_rolls_a_worse_one_back(
    rig: FakeDockerRig,
) -> None:
    rig.deploy("v1", CONSTANT)
    assert rig.deploy("v2", WORSE, split=20).decision == "splitting"
    rig.send(2000, headers=lambda n: {"X-Caller-Id": f"a-{n}"}, seed=2)
    rig.report_outcomes(seed=3)
    assert rig.decide() == "rollback"
    assert rig.send(50) == {"blue": 50}  # all traffic back on the live color
    assert rig.deploy("v3", BETTER, split=20).decision == "splitting"
    rig.send(2000, headers=lambda n: {"X-Caller-Id": f"b-{n}"}, seed=4)
    rig.report_outcomes(seed=5)
    assert rig.decide() == "promote"
    assert rig.send(50) == {"green": 50}
    state = rig.target().state()
    assert (state.live, state.split, state.slots["blue"].running) == ("green", None, False)
    entry = [line for line in rig.settings.audit_log.read_text().splitlines() if '"decide"' in line]
    assert len(entry) == 2


def test_down_ends_a_docker_split(rig: FakeDockerRig) -> None:
    rig.deploy("v1", CONSTANT)
    rig.deploy("v2", BETTER, split=20)
    target = rig.target()
    assert target.current_split() is not None
    target.down()
    assert target.current_split() is None and target.state().split is None
    assert rig.engine.containers == {}


# -- with a real engine and registry (docker_rig.py says which; skipped, with why, without) ------


@pytest.fixture(scope="module")
def split_images() -> Iterator[dict[str, str]]:
    """s1 (constant: accuracy ~0.5), s2 (worse: ~0.3), s3 (better: ~0.7), pushed by digest; their
    manifests name the dataset, where the serving image keeps its bundle's."""
    pushed: dict[str, str] = {}
    try:
        for version, fault in (("s1", CONSTANT), ("s2", WORSE), ("s3", BETTER)):
            pushed[version] = push_stub(version, fault, **spec_manifest({}))
        yield pushed
    finally:
        for reference in pushed.values():
            docker("rmi", reference, check=False)


def send_and_label(url: str, count: int, prefix: str, seed: int) -> Counter[str]:
    """`count` requests, one caller each; then each one's true label (the age rule, contradicted
    in NOISE of the cases) by POST /feedback, pinned to the color that answered it."""
    ages, noise = np.random.default_rng(seed), np.random.default_rng(seed + 1)
    served: Counter[str] = Counter()
    with httpx.Client(timeout=10) as client:
        for n in range(count):
            age = int(ages.integers(20, 80))
            headers = {"X-Caller-Id": f"{prefix}-{n}"}
            answer = client.post(url, json={"records": [record(age)]}, headers=headers)
            answer.raise_for_status()
            color = answer.headers["X-Greenlight-Variant"]
            served[color] += 1
            label = (age >= 50) != (noise.random() < NOISE)
            body = {
                "request_id": answer.headers["X-Request-ID"],
                "label": POSITIVE if label else NEGATIVE,
            }
            sent = client.post(
                url.replace("/predict", "/feedback"),
                json=body,
                headers={"X-Greenlight-Variant": color},
            )
            assert sent.status_code == 201, sent.text
    return served


def shown_split(rig: DockerRig) -> dict[str, Any]:
    done = rig.cli("status", "--target", "docker")
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout[: done.stdout.rindex("}") + 1]).get("split") or {})


@needs_engine
def test_a_docker_split_with_a_real_engine_pins_survives_a_restart_and_is_decided(
    tmp_path: Path, split_images: dict[str, str]
) -> None:
    with docker_rig(tmp_path / "bundles", SplitSettings(min_samples=100, alpha=0.01)) as rig:
        assert docker_deploy(rig, "s1", split_images["s1"]).decision == "deployed"
        assert docker_deploy(rig, "s2", split_images["s2"], split=20).decision == "splitting"
        served = send_and_label(rig.url, 2000, "a", seed=2)
        share = served["green"] / 2000
        print(f"\nreal engine, 2000 callers at 20%: candidate {served['green']} ({share:.1%})")
        assert 0.17 <= share <= 0.23, served
        for pin, color in (("candidate", "green"), ("live", "blue")):
            assert send_to(rig.url, 30, lambda n, p=pin: {"X-Greenlight-Variant": p}) == {color: 30}
        callers = [{"X-Caller-Id": f"a-{n}"} for n in range(0, 2000, 50)]
        where = [send_to(rig.url, 1, lambda n, h=pin: h) for pin in callers]
        proxy = json.loads((rig.settings.docker.state_dir / "state.json").read_text())["proxy"]
        os.kill(proxy["pid"], signal.SIGKILL)
        time.sleep(0.5)
        split = shown_split(rig)  # `status` restarts HAProxy from its config, split and all
        assert (split["candidate"], split["percent"]) == ("green", 20), split
        green = split["variants"]["green"]
        assert green["outcomes"] == served["green"] and green["accuracy"] < 0.4, green
        assert [send_to(rig.url, 1, lambda n, h=pin: h) for pin in callers] == where
        decided = rig.cli("decide", "--target", "docker")
        print(decided.stdout.strip().splitlines()[-1])
        assert decided.returncode == 1 and "rollback:" in decided.stdout, (
            decided.stdout + decided.stderr
        )
        assert send_to(rig.url, 50) == {"blue": 50}
        assert docker_deploy(rig, "s3", split_images["s3"], split=20).decision == "splitting"
        send_and_label(rig.url, 2000, "b", seed=4)
        decided = rig.cli("decide", "--target", "docker")
        print(decided.stdout.strip().splitlines()[-1])
        assert decided.returncode == 0 and "promote:" in decided.stdout, (
            decided.stdout + decided.stderr
        )
        assert send_to(rig.url, 50) == {"green": 50}
        assert docker_deploy(rig, "s2", split_images["s2"], split=20).decision == "splitting"
        done = rig.cli("down", "--target", "docker")
        assert done.returncode == 0, done.stderr
        assert rig.ours() == [] and shown_split(rig) == {}  # `down` ended the split
