"""The make targets the workflows call: each one exists and documents itself, and the small ones
that hold CI logic (the required `gate` check, the comment guard) behave as the workflow needs."""

from __future__ import annotations

import os
import subprocess

import pytest
import yaml

from conftest import ROOT


def make(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if key != "REPO_TOKEN"}
    return subprocess.run(
        ["make", "-s", "--no-print-directory", *args], cwd=ROOT, capture_output=True, text=True,
        env={**environment, **env}, check=False, timeout=60,
    )  # fmt: skip


def workflow_targets() -> set[str]:
    targets = set()
    for path in (ROOT / ".github" / "workflows").glob("*.y*ml"):
        for job in yaml.safe_load(path.read_text())["jobs"].values():
            runs = [step["run"] for step in job.get("steps", []) if "run" in step]
            targets |= {run.split()[1] for run in runs if run.startswith("make ")}
    return targets


def test_every_make_target_a_workflow_calls_is_listed_by_make_help() -> None:
    listed = {line.split()[0] for line in make("help").stdout.splitlines() if line.startswith("  ")}
    assert workflow_targets() >= {"lint", "pr-test", "pr-repro", "pr-report", "gate", "pr-comment"}
    assert workflow_targets() <= listed


def test_the_gate_check_passes_after_a_successful_repro() -> None:
    done = make("pr-require-repro", REPRO_RESULT="success")
    assert done.returncode == 0, done.stderr
    assert "passed" in done.stdout


@pytest.mark.parametrize(
    ("result", "reason"),
    [("skipped", "fork"), ("failure", "ended 'failure'"), ("cancelled", "ended 'cancelled'"),
     ("", "ended 'unknown'")],
)  # fmt: skip
def test_the_gate_check_fails_without_a_successful_repro(result: str, reason: str) -> None:
    done = make("pr-require-repro", REPRO_RESULT=result)
    assert done.returncode != 0
    assert reason in done.stderr


def test_the_comment_needs_a_token_before_anything_is_sent(tmp_path) -> None:
    event = tmp_path / "event.json"
    event.write_text('{"pull_request": {"number": 1}}')
    done = make("pr-comment", GITHUB_EVENT_PATH=str(event), GITHUB_REPOSITORY="acme/shop",
                GITHUB_TOKEN="", GITHUB_API_URL="http://127.0.0.1:9")  # fmt: skip
    assert done.returncode != 0
    assert "no token: set GITHUB_TOKEN" in done.stderr


def test_the_jobs_that_judge_or_write_run_the_base_code_not_the_pr() -> None:
    """`gate` decides the required check and `comment` holds a write token: both check out the
    base commit, so a pull request cannot rewrite the Makefile they run."""
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "pr.yml").read_text())
    for name in ("gate", "comment"):
        checkout = next(
            step for step in workflow["jobs"][name]["steps"]
            if step.get("uses", "").startswith("actions/checkout@")
        )  # fmt: skip
        assert checkout["with"]["ref"] == "${{ github.event.pull_request.base.sha }}", name
