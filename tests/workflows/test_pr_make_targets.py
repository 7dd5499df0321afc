"""The make targets the workflows call: each one exists and documents itself, and the small ones
that hold CI logic (the required `gate` check, the comment guard) behave as the workflow needs."""

from __future__ import annotations

import os
import subprocess

import pytest
import yaml

from conftest import ROOT
from fake_github import FakeGitHub


def make(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "REPO_"))}
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
    expected = {"lint", "pr-test", "pr-repro", "pr-report", "gate", "pr-comment", "push-run-cache",
                "deploy-check-ref", "deploy-image", "ci-config"}  # fmt: skip
    assert workflow_targets() >= expected
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


def test_the_comment_target_posts_one_comment_and_edits_it_on_the_next_push(tmp_path) -> None:
    fake = FakeGitHub()
    event, report = tmp_path / "event.json", tmp_path / "pr_comment.md"
    event.write_text('{"pull_request": {"number": 4}}')
    with fake.serve() as url:
        env = {
            "GITHUB_EVENT_PATH": str(event),
            "GITHUB_REPOSITORY": "acme/shop",
            "GITHUB_TOKEN": "t0ken",
            "GITHUB_API_URL": url,
            "PR_COMMENT": str(report),
        }
        for verdict in ("passed", "FAILED"):
            report.write_text(f"# gate {verdict}")
            done = make("pr-comment", **env)
            assert done.returncode == 0, done.stderr
        refused = make("pr-comment", **{**env, "GITHUB_TOKEN": ""})
    assert [item["body"].splitlines()[1] for item in fake.comments[4]] == ["# gate FAILED"]
    assert refused.returncode != 0 and "no token: set GITHUB_TOKEN" in refused.stderr


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
