"""`greenlight ci config`: which optional settings are configured, and the notice for each one
that is not (job summary and annotation); the job itself stays green."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT
from greenlight.ci.config import Context, configured, notice, outputs

CONFIG = "[core]\n    remote = embedded\n['remote \"embedded\"']\n    url = ../dvc-remote\n"
NOTHING = Context(env={}, remotes={"embedded": "../dvc-remote"}, drift_source="remote://team/logs")
TEAM = Context(
    env={},
    remotes={"embedded": "../dvc-remote", "team": "s3://b/p"},
    drift_source="remote://team/logs",
)


def test_a_fresh_copy_has_nothing_configured() -> None:
    assert configured(["team_remote", "cluster", "log_source"], NOTHING) == {
        "team_remote": False, "cluster": False, "log_source": False,
    }  # fmt: skip


def test_the_team_remote_also_gives_drift_its_default_log_source() -> None:
    assert configured(["team_remote", "log_source"], TEAM) == {
        "team_remote": True,
        "log_source": True,
    }


@pytest.mark.parametrize(
    ("env", "source", "expected"),
    [({"DRIFT_SOURCE": "s3://logs/"}, "remote://team/logs", True), ({}, "s3://logs/", True),
     ({}, "remote://embedded/logs", True), ({}, "", False), ({"DRIFT_SOURCE": ""}, "", False)],
)  # fmt: skip
def test_a_log_source_is_explicit_or_a_folder_of_an_existing_remote(env, source, expected) -> None:
    context = Context(env=env, remotes={"embedded": "x"}, drift_source=source)
    assert configured(["log_source"], context) == {"log_source": expected}


def test_the_cluster_is_configured_by_its_api_server() -> None:
    context = Context(env={"KUBE_API_SERVER": "https://k8s:6443"}, remotes={}, drift_source="")
    assert configured(["cluster"], context) == {"cluster": True}


def test_the_notice_says_what_to_configure() -> None:
    assert "make remote URL=s3://" in notice("team_remote")
    assert "DVC_REMOTE_ROLE" in notice("team_remote") and "KUBE_API_SERVER" in notice("cluster")
    assert outputs({"team_remote": False, "cluster": True}) == "team_remote=false\ncluster=true\n"


def test_an_unknown_setting_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown setting 'registry'"):
        configured(["registry"], NOTHING)


def test_the_command_writes_outputs_and_notices_and_exits_0(tmp_path: Path) -> None:
    """In a checkout whose only DVC remote is the embedded one, as a fresh copy of the template."""
    repo = tmp_path / "repo"
    (repo / ".dvc").mkdir(parents=True)
    (repo / ".dvc" / "config").write_text(CONFIG)
    output, summary = tmp_path / "output", tmp_path / "summary.md"
    command = [sys.executable, "-m", "greenlight", "ci", "config", "--need", "team_remote",
               "--need", "log_source", "--params", str(ROOT / "params.yaml"),
               "--github-output", str(output), "--summary", str(summary)]  # fmt: skip
    done = subprocess.run(command, cwd=repo, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert output.read_text() == "team_remote=false\nlog_source=false\n"
    assert "no team DVC remote" in summary.read_text()
    assert "no prediction-log source" in summary.read_text()
    assert "::notice title=greenlight: no team DVC remote::" in done.stdout
    (repo / ".dvc" / "config").write_text(CONFIG + "['remote \"team\"']\n    url = s3://b/p\n")
    done = subprocess.run(command, cwd=repo, capture_output=True, text=True, check=False)
    assert output.read_text().endswith("team_remote=true\nlog_source=true\n"), done.stderr
