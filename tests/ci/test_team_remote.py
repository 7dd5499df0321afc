"""`make remote`: the team remote becomes the default for pipeline outputs, while the raw data keeps
coming from the embedded remote (data.dvc's `remote: embedded`), before and after. Run on a copy
of the repository's DVC files, with a local folder standing in for the bucket."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT

DVC = ROOT / ".venv" / "bin" / "dvc"
pytestmark = pytest.mark.skipif(
    not DVC.is_file() or not list((ROOT / ".venv").glob(".installed-*")),
    reason="needs an installed .venv (make setup)",
)


def run(cwd: Path, *command: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, check=False, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def make_remote(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [
        "make",
        "-s",
        "-f",
        str(ROOT / "Makefile"),
        "remote",
        f"VENV={ROOT / '.venv'}",
        *args,
    ]
    return subprocess.run(
        command, cwd=repo, capture_output=True, text=True, check=False, timeout=120
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    for name in ("data.dvc", "requirements.lock", "pyproject.toml", ".dvcignore"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, repo / name)  # older than the stamp: no setup
    shutil.copytree(ROOT / "dvc-remote", repo / "dvc-remote")
    (repo / ".dvc").mkdir()
    shutil.copy(ROOT / ".dvc" / "config", repo / ".dvc" / "config")
    run(repo, "git", "init", "-q")
    return repo


def test_data_comes_from_the_embedded_remote_before_and_after(repo: Path, tmp_path: Path) -> None:
    run(repo, str(DVC), "pull", "data.dvc")
    shutil.rmtree(repo / "data")
    shutil.rmtree(repo / ".dvc" / "cache")
    bucket = tmp_path / "bucket"
    done = make_remote(repo, f"URL={bucket}")
    assert done.returncode == 0, done.stderr
    assert run(repo, str(DVC), "remote", "default").stdout.strip() == "team"
    run(repo, str(DVC), "pull", "data.dvc")
    assert sorted(path.name for path in (repo / "data").iterdir())
    assert not bucket.exists()  # pulling the data touched no team remote


def test_outputs_are_pushed_to_the_team_remote_with_its_endpoint(
    repo: Path, tmp_path: Path
) -> None:
    bucket = tmp_path / "bucket"
    assert make_remote(repo, f"URL={bucket}").returncode == 0
    (repo / "out.txt").write_text("an output")
    run(repo, str(DVC), "add", "out.txt")
    run(repo, str(DVC), "push", "out.txt.dvc")
    assert [path.name for path in bucket.rglob("*") if path.is_file()]
    done = make_remote(repo, "URL=s3://bucket/prefix", "ENDPOINT=http://127.0.0.1:9000")
    assert done.returncode == 0, done.stderr
    config = run(repo, str(DVC), "config", "--list", "--project").stdout
    assert "remote.team.url=s3://bucket/prefix" in config
    assert "remote.team.endpointurl=http://127.0.0.1:9000" in config
    assert "remote.team.verify=true" in config and "core.remote=team" in config


def test_without_a_url_nothing_is_configured(repo: Path) -> None:
    done = make_remote(repo)
    assert done.returncode != 0 and "URL is not set" in done.stderr
    assert "team" not in (repo / ".dvc" / "config").read_text()
