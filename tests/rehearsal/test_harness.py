"""The rehearsal's own pieces that need no act: the workflow cut, the parsing of act's JSON log
and of dvc's stage lines, and stopping a process tree whose members left its session."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import yaml

from greenlight.deploy.targets import processes
from tools.harness.load import Answer
from tools.rehearsal.act import (
    ActRun,
    environment_jobs,
    inheriting_secrets,
    parse_log,
    pinned_actions,
    without_jobs,
    without_outputs,
)
from tools.rehearsal.load import tally
from tools.rehearsal.procs import run_captured, running
from tools.rehearsal.scenario import stage_outcomes
from tools.rehearsal.world import STEP_BASH

ROOT = Path(__file__).resolve().parents[2]
PR = ROOT / ".github" / "workflows" / "pr.yml"


def test_cutting_jobs_keeps_every_other_line_and_job() -> None:
    text = PR.read_text()
    cut = without_jobs(text, {"lint", "test"})
    jobs = yaml.safe_load(cut)["jobs"]
    assert "lint" not in jobs and "test" not in jobs
    assert set(jobs) == set(yaml.safe_load(text)["jobs"]) - {"lint", "test"}
    assert set(cut.splitlines()) <= set(text.splitlines())


def test_cutting_refuses_a_cut_that_did_not_do_what_was_asked() -> None:
    text = "on: push\njobs:\n  a:\n    runs-on: x\n  b:\n    runs-on: y\n"
    assert yaml.safe_load(without_jobs(text, {"a"}))["jobs"] == {"b": {"runs-on": "y"}}
    indented = text.replace("\n  ", "\n    ")  # jobs four spaces in: no header is found
    with pytest.raises(ValueError, match="changed the other jobs"):
        without_jobs(indented, {"a"})


def test_every_pinned_action_is_a_full_sha() -> None:
    pinned = pinned_actions(sorted((ROOT / ".github" / "workflows").glob("*.yml")))
    assert "actions/checkout" in pinned
    assert all(len(sha) == 40 for shas in pinned.values() for sha in shas)


def test_act_json_log_gives_results_summaries_and_output(tmp_path: Path) -> None:
    lines = [
        {"jobID": "repro", "time": "2026-01-01T00:00:00Z", "msg": "⭐ Run Set up job"},
        {"jobID": "repro", "raw_output": True, "msg": "Running stage 'train':\n"},
        {
            "jobID": "repro",
            "stage": "Main",
            "step": "make gate",
            "stepResult": "failure",
            "executionTime": 2_500_000_000,
        },
        {"jobID": "repro", "command": "summary", "content": "# report\n"},
        {"jobID": "repro", "jobResult": "failure", "time": "2026-01-01T00:01:40Z"},
    ]
    text = "\n".join(json.dumps(line) for line in lines) + "\nError: Job 'repro' failed\n"
    run = ActRun("pr.yml", "pull_request", 1, 1, 100.0, tmp_path / "log")
    parse_log(run, text)
    assert run.result("repro") == "failure"
    assert run.result("comment") == "skipped"
    assert run.failed_steps("repro") == ["make gate"]
    assert run.summaries["repro"] == "# report\n"
    assert stage_outcomes(run.text("repro")) == {"train": "ran"}


def test_stage_lines_of_dvc() -> None:
    text = (
        "Pulling data for stage: 'explain'\n"
        "Stage 'validate' didn't change, skipping\n"
        "Stage 'featurize' is cached - skipping run, checking out outputs\n"
        "Running stage 'train':\n"
    )
    assert stage_outcomes(text) == {
        "validate": "unchanged (outputs pulled)",
        "featurize": "run-cache",
        "train": "ran",
        "explain": "pulled from the remote",
    }


def test_a_process_tree_is_stopped_with_the_children_that_left_its_session(
    tmp_path: Path,
) -> None:
    """act's steps start sessions of their own: leaving the block stops them too."""
    script = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'],"
        " start_new_session=True)\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    log = tmp_path / "parent.log"
    with running([sys.executable, "-c", script], log, dict(os.environ)) as record:
        deadline = time.monotonic() + 10
        while not log.read_text().strip() and time.monotonic() < deadline:
            time.sleep(0.05)
        child = int(log.read_text())
        assert processes.remaining(record) and child in processes.remaining(record)
    assert not processes.remaining(record)
    assert not psutil.pid_exists(child) or psutil.Process(child).status() == psutil.STATUS_ZOMBIE


def test_a_command_past_its_timeout_is_stopped_and_reads_as_124(tmp_path: Path) -> None:
    argv = [sys.executable, "-c", "print('started', flush=True); import time; time.sleep(60)"]
    code, text, seconds = run_captured(argv, tmp_path / "slow.log", dict(os.environ), tmp_path, 1)
    assert (code, text.strip()) == (124, "started") and seconds < 30


MAIN = ROOT / ".github" / "workflows" / "main.yml"
DEPLOY = ROOT / ".github" / "workflows" / "deploy.yml"


def test_the_call_of_deploy_inherits_secrets_and_nothing_else_changes() -> None:
    text = MAIN.read_text()
    changed = inheriting_secrets(text, {"deploy"})
    before, after = yaml.safe_load(text)["jobs"], yaml.safe_load(changed)["jobs"]
    assert after["deploy"] == {**before["deploy"], "secrets": "inherit"}
    assert {k: v for k, v in after.items() if k != "deploy"} == {
        k: v for k, v in before.items() if k != "deploy"
    }
    assert set(text.splitlines()) <= set(changed.splitlines())
    with pytest.raises(ValueError, match="changed more"):
        inheriting_secrets(text, {"run-cache"})  # a job that calls no workflow


def test_only_the_rollout_waits_for_production_s_reviewer() -> None:
    workflows = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
    assert environment_jobs(workflows, "production") == {"rollout"}
    assert environment_jobs(workflows, "retrain") == {"retrain"}  # drift.yml's: not gated


def _step_bash(tmp_path: Path, job: str) -> subprocess.Popen:
    shell = tmp_path / "bash"
    shell.write_text(STEP_BASH)
    shell.chmod(0o755)
    env = {"PATH": "/usr/bin:/bin", "GITHUB_JOB": job, "GITHUB_RUN_ID": "7"}
    env |= {"REHEARSAL_GATE": str(tmp_path), "REHEARSAL_GATED_JOBS": "other rollout"}
    return subprocess.Popen(
        [str(shell), "-c", "echo ran"], env=env, stdout=subprocess.PIPE, text=True
    )


def test_the_runner_shell_holds_a_gated_job_until_the_reviewer_approves(tmp_path: Path) -> None:
    held = _step_bash(tmp_path, "rollout")
    deadline = time.monotonic() + 10
    while not (tmp_path / "7.pending").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (tmp_path / "7.pending").read_text().strip() == "rollout"
    time.sleep(1)
    assert held.poll() is None  # still waiting
    (tmp_path / "7.approved").write_text("approved\n")
    assert held.communicate(timeout=10)[0].strip() == "ran"
    assert held.returncode == 0
    free = _step_bash(tmp_path, "build")  # a job without an environment is not held
    assert free.communicate(timeout=10)[0].strip() == "ran"


def test_the_load_counts_failures_only_once_something_answered() -> None:
    statuses = [None, 503, 200, 200, 502, 200]
    answers = [Answer(n, n + 0.5, status, None, None) for n, status in enumerate(statuses)]
    counted = tally(answers)
    assert (counted.waiting, counted.ok, counted.failed) == (2, 3, 1)
    assert "HTTP 502" in counted.failures[0] and "1 failed" in counted.line()
    assert counted.last_ok - counted.first_ok == 3


def test_a_skipped_job_loses_its_outputs_and_nothing_else() -> None:
    text = DEPLOY.read_text()
    cut = without_outputs(text, "build")
    before, after = yaml.safe_load(text)["jobs"], yaml.safe_load(cut)["jobs"]
    assert "outputs" in before["build"] and "outputs" not in after["build"]
    assert after["rollout"] == before["rollout"] and after["check"] == before["check"]
    assert set(cut.splitlines()) <= set(text.splitlines())
