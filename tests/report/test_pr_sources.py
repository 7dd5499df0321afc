"""Reading the two sides: the base from git (`git show <ref>:<path>`), the branch from disk; and
`greenlight report` end to end on the sample pipeline's outputs in a scratch repository."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from conftest import ROOT, PipelineRun, working_directory
from greenlight.cli import app
from greenlight.errors import GreenlightError
from greenlight.report.sources import base_side, figures, resolve_ref

BASE_METRICS = {"accuracy": 0.87, "f1": 0.70}


def git(repo: Path, *args: str) -> str:
    command = ["git", "-c", "user.name=test", "-c", "user.email=test@example.com", *args]
    return subprocess.run(command, cwd=repo, check=True, capture_output=True, text=True).stdout


def scratch_repo(path: Path) -> Path:
    git(path, "init", "--quiet", "--initial-branch=main")
    (path / "reports").mkdir()
    (path / "reports" / "metrics.json").write_text(json.dumps(BASE_METRICS))
    (path / "params.yaml").write_text("train: {model: hgb}\n")
    git(path, "add", ".")
    git(path, "commit", "--quiet", "-m", "base")
    return path


def test_the_base_comes_from_the_commit_not_the_working_tree(tmp_path: Path) -> None:
    repo = scratch_repo(tmp_path)
    (repo / "reports" / "metrics.json").write_text(json.dumps({"accuracy": 0.5}))
    with working_directory(repo):
        side = base_side("main", Path("reports"), Path("params.yaml"))
    assert side.metrics == BASE_METRICS
    assert side.params == {"train": {"model": "hgb"}}
    assert side.fairness is None  # not committed at the base yet


def test_an_unknown_base_ref_says_how_to_fix_it(tmp_path: Path) -> None:
    with working_directory(scratch_repo(tmp_path)), pytest.raises(GreenlightError) as error:
        resolve_ref("origin/main")
    assert "'origin/main' is not a commit" in str(error.value)
    assert "--base" in str(error.value)


def test_a_corrupt_base_file_is_named(tmp_path: Path) -> None:
    repo = scratch_repo(tmp_path)
    (repo / "reports" / "fairness.json").write_text("{not json")
    git(repo, "add", ".")
    git(repo, "commit", "--quiet", "-m", "broken")
    with working_directory(repo), pytest.raises(GreenlightError, match="HEAD:reports/fairness"):
        base_side("HEAD", Path("reports"), Path("params.yaml"))


def test_figures_are_listed_relative_to_the_comment(tmp_path: Path) -> None:
    names = ["fairness/sex.png", "figures/extra.png", "figures/calibration.png", "figures/roc.png"]
    names += ["plots/roc.csv", "explain/contributions.png"]
    for name in names:
        (tmp_path / "reports" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "reports" / name).write_bytes(b"png")
    found = figures(tmp_path / "reports", relative_to=tmp_path / "reports")
    # the evaluate stage's figures in reading order, any other one after them, fairness last
    expected = [
        "figures/roc.png",
        "figures/calibration.png",
        "figures/extra.png",
        "fairness/sex.png",
    ]
    assert found == [*expected, "explain/contributions.png"]
    from_root = figures(tmp_path / "reports", relative_to=tmp_path)
    assert from_root[0] == "reports/figures/roc.png"


@pytest.mark.slow
def test_greenlight_report_end_to_end(pipeline_run: PipelineRun, tmp_path: Path) -> None:
    """Base = the sample pipeline's reports, committed; branch = a stricter gate, and no pipeline
    outputs in the workspace. The comment fails the gate with the reason, lists the param change,
    says why it counts no flips, and lists (does not link) the PNGs that exist."""
    repo = tmp_path / "repo"
    shutil.copytree(pipeline_run.reports, repo / "reports")
    shutil.copytree(pipeline_run.bundle, repo / "models" / "bundle")
    for name in ("params.yaml", "schema.yaml"):
        shutil.copy(ROOT / name, repo / name)
    lock = {"schema": "2.0", "stages": {"train": {"cmd": "bin/stage train", "outs": []}}}
    (repo / "dvc.lock").write_text(yaml.safe_dump(lock))
    git(repo, "init", "--quiet", "--initial-branch=main")
    git(repo, "add", ".")
    git(repo, "commit", "--quiet", "-m", "base")
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["gate"]["min"]["accuracy"] = 0.99
    (repo / "params.yaml").write_text(yaml.safe_dump(params))

    with working_directory(repo):
        result = CliRunner().invoke(app, ["report", "--base", "main"])
    assert result.exit_code == 0, result.output
    comment = (repo / "reports" / "pr_comment.md").read_text()
    assert comment.startswith("### ❌ Gate failed, ")
    assert "accuracy = " in comment.splitlines()[0]
    assert "must be at least 0.99" in comment.splitlines()[0]
    assert "| `gate.min.accuracy` | `0.86` | `0.99` |" in comment
    assert "Flipped predictions: not counted: artifacts/split/test.parquet not found" in comment
    assert "![" not in comment
    listed = (repo / "reports" / "pr_figures.txt").read_text().split()
    assert len(listed) >= 8
    assert all((repo / path).is_file() for path in listed)
    assert "Gate failed" in result.output
    lock["stages"]["train"]["outs"] = [{"path": "models/bundle", "md5": "new.dir"}]
    (repo / "dvc.lock").write_text(yaml.safe_dump(lock))  # what a repro wrote, not committed
    with working_directory(repo):
        result = CliRunner().invoke(app, ["report", "--base", "main"])
    first = (repo / "reports" / "pr_comment.md").read_text().splitlines()[0]
    assert first == "### ❌ dvc.lock is stale: stages train (models/bundle)"
