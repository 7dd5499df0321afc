"""The quick part of the rehearsal, with act on the real pr.yml: a fork's pull request never
reaches the repro job, and the required `gate` check is red with the reason. The whole scenario
(repro, comment, run-cache, merge, drift) is `make rehearse`, which `.ci/run` runs after the tests.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.rehearsal.scenario import Scenario
from tools.rehearsal.world import World, default_paths

ROOT = Path(__file__).resolve().parents[2]
TOOLS = default_paths(ROOT)
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not all(path.exists() for path in TOOLS.values()),
        reason="act and moto are not installed: `make rehearse` installs them into "
        ".tools/rehearsal (tools/rehearsal/requirements.txt)",
    ),
]


def test_a_forks_pull_request_is_never_reproduced_and_the_gate_says_why(tmp_path: Path) -> None:
    world = World(project=ROOT, work=tmp_path, **TOOLS)
    world.snapshot()
    scenario = Scenario(world)
    with world.services():
        step = scenario.step("fork", scenario.fork_pull_request)
        calls = world.github.calls() if world.github else []
    assert step.ok, step.error
    (run,) = step.runs
    assert run.result("repro") == "skipped"
    assert run.result("gate") == "failure"
    assert any("gate red:" in fact for fact in step.facts)
    assert not [call for call in calls if call.method != "GET"], "the fork's run wrote to GitHub"
