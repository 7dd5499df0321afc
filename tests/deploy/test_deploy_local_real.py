"""The real thing: `greenlight serve` processes behind HAProxy, a rollout under steady keep-alive
load (50 requests/s for the whole rollout), counting every answer."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from deploy_rig import REAL_COMMAND, LocalRig, deploy, local_rig, needs_haproxy, real_bundle

from conftest import PipelineRun
from tools.harness.load import SteadyLoad

pytestmark = [pytest.mark.slow, needs_haproxy]


@pytest.fixture
def real_rig(tmp_path: Path) -> Iterator[LocalRig]:
    # A real service loads the bundle and warms up: give it time on a busy CI machine.
    with local_rig(REAL_COMMAND, tmp_path / "bundles", readiness_deadline_s=240.0) as rig:
        yield rig


def test_rollout_under_steady_load_loses_no_request(
    real_rig: LocalRig, pipeline_run: PipelineRun
) -> None:
    bundles = {
        version: real_bundle(pipeline_run.bundle, real_rig.bundles, version, offset)
        for version, offset in (("v1", 0.0), ("v2", 0.0), ("v3-wrong", 0.2))
    }
    assert deploy(real_rig, bundles["v1"]).ok
    record = json.loads((bundles["v1"] / "manifest.json").read_text())["known_answers"][0]["record"]
    load = SteadyLoad(real_rig.url, record, rate=50, clients=4, max_seconds=400)
    with load:
        time.sleep(1.0)
        upgrade = deploy(real_rig, bundles["v2"])
        refused = deploy(real_rig, bundles["v3-wrong"])
        time.sleep(1.0)
        answers = load.stop()
    assert (upgrade.decision, refused.decision) == ("deployed", "rejected")
    assert len(answers) == load.sent > 50 * 20  # every request got exactly one answer
    failed = [answer for answer in answers if not answer.ok]
    print(f"{len(answers)} requests at 50/s through two rollouts, {len(failed)} failed")
    assert failed == [], failed[:5]
    versions = [answer.version for answer in answers]
    assert set(versions) == {"v1", "v2"}
    first_v2 = versions.index("v2")
    assert "v1" not in versions[first_v2 + 4 :]  # a few v1 answers may have been in flight
    # greenlight serve checks the known answers itself and refuses: the controller hears it
    ready = [entry for entry in real_rig.audit() if entry.step == "ready"][-1]
    assert (ready.version, ready.result) == ("v3-wrong", "failed")
    assert "known answer" in ready.reason, ready.reason
