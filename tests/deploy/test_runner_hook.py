"""deploy/runner/job-started.py, run as the runner runs it: with GITHUB_EVENT_NAME and a payload
at GITHUB_EVENT_PATH. Fork pull requests are refused (exit 1, a reason); the rest pass."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

HOOK = ROOT / "deploy" / "runner" / "job-started.sh"  # what the runner runs; it runs the .py


def pull(head: str | None, base: str = "acme/shop", number: int = 7) -> dict:
    head_repo = {"full_name": head} if head is not None else None
    return {"number": number, "pull_request": {"number": number,
            "head": {"repo": head_repo}, "base": {"repo": {"full_name": base}}}}  # fmt: skip


def hook(tmp_path: Path, event: str, payload: object | None) -> subprocess.CompletedProcess[str]:
    env = {"GITHUB_EVENT_NAME": event, "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"}
    if payload is not None:
        path = tmp_path / "event.json"
        path.write_text(payload if isinstance(payload, str) else json.dumps(payload))
        env["GITHUB_EVENT_PATH"] = str(path)
    command = ["bash", str(HOOK)]
    return subprocess.run(command, env=env, capture_output=True, text=True, check=False, timeout=30)


@pytest.mark.parametrize("event", ["pull_request", "pull_request_target"])
def test_a_fork_pull_request_is_refused_naming_the_fork(tmp_path: Path, event: str) -> None:
    done = hook(tmp_path, event, pull("stranger/shop"))
    assert done.returncode == 1
    assert "pull request #7 comes from the fork stranger/shop, not acme/shop" in done.stderr


def test_a_branch_of_this_repository_may_run(tmp_path: Path) -> None:
    done = hook(tmp_path, "pull_request", pull("Acme/Shop"))
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    "payload", [pull(None), {"number": 7}, "not json", None, ["a", "list"]],
    ids=["deleted-fork", "no-pull-request", "not-json", "no-payload", "not-an-object"],
)  # fmt: skip
def test_a_pull_request_job_whose_origin_is_unknown_is_refused(tmp_path: Path, payload) -> None:
    done = hook(tmp_path, "pull_request", payload)
    assert done.returncode == 1 and "refused on this self-hosted runner" in done.stderr


@pytest.mark.parametrize("event", ["push", "workflow_dispatch", "schedule"])
def test_other_events_run(tmp_path: Path, event: str) -> None:
    assert hook(tmp_path, event, {"ref": "refs/heads/main"}).returncode == 0
