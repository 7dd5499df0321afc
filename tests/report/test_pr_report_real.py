"""`greenlight report --base main` on real runs: the sample pipeline's outputs committed as the base
(dvc commit: the base's bundle is in the DVC cache, its reports in git), then one hyper-parameter
changed and the model retrained. The comment's charts hold both models, from the base's committed
files; it counts the flipped test predictions; it shows explanations; it links no image."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from conftest import ROOT, SAMPLE, PipelineRun, working_directory
from greenlight.cli import app
from greenlight.config import load_params
from greenlight.report import charts
from greenlight.report.render import MAX_COMMENT_CHARS
from greenlight.stages import card, evaluate, explain, fairness, train

pytestmark = pytest.mark.slow
DVC = str(Path(sys.executable).parent / "dvc")
BASE_RATE, HEAD_RATE = 0.1, 0.3  # train.hgb.learning_rate: the one change of the pull request


def run(repo: Path, *command: str) -> str:
    done = subprocess.run(command, cwd=repo, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def git(repo: Path, *args: str) -> str:
    return run(repo, "git", "-c", "user.name=test", "-c", "user.email=t@example.com", *args)


def sample_params_file(repo: Path, learning_rate: float) -> None:
    """params.yaml with the values conftest.sample_params uses (a quicker model)."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["train"]["hgb"].update(max_iter=60, learning_rate=learning_rate)
    params["train"]["known_answers"] = 5
    params["evaluate"]["importance"].update(n_repeats=2, sample=300)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def base_repository(path: Path, base_run: PipelineRun) -> Path:
    """A git + DVC repository whose one commit holds the sample run, as `dvc commit` records it."""
    path.mkdir()
    for name in ("dvc.yaml", "schema.yaml", "requirements.lock"):  # the lock: every stage's dep
        shutil.copy(ROOT / name, path / name)
    sample_params_file(path, BASE_RATE)
    shutil.copytree(ROOT / "src", path / "src", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(SAMPLE, path / "data" / "adult", ignore=shutil.ignore_patterns("*.md"))
    for folder in ("artifacts", "models", "reports"):
        shutil.copytree(base_run.workdir / folder, path / folder)
        shutil.copy(ROOT / folder / ".gitignore", path / folder / ".gitignore")
    git(path, "init", "--quiet", "--initial-branch=main")
    run(path, DVC, "init", "--quiet")
    run(path, DVC, "commit", "--force", "--quiet")
    git(path, "add", "--all")
    git(path, "commit", "--quiet", "-m", "base: the sample run")
    return path


def retrain(repo: Path, learning_rate: float) -> None:
    """The pull request: one hyper-parameter, then the stages that depend on it."""
    sample_params_file(repo, learning_rate)
    with working_directory(repo):
        params = load_params(Path("params.yaml"))
        for stage in (train, evaluate, fairness, explain, card):
            stage.run(params)


def mermaid_blocks(comment: str) -> dict[str, list[list[float]]]:
    """Each chart's title -> its series (the numbers of each `line` or `bar` statement)."""
    blocks = {}
    for block in re.findall(r"```mermaid\n(.*?)```", comment, flags=re.DOTALL):
        title = re.search(r'title "([^"]*)"', block).group(1)
        series = re.findall(r"^\s+(?:line|bar) \[([^\]]*)\]", block, flags=re.MULTILINE)
        blocks[title] = [[float(value) for value in numbers.split(",")] for numbers in series]
    return blocks


def committed_table(repo: Path, path: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(git(repo, "show", f"main:{path}")))


@pytest.fixture(scope="module")
def pull_request(pipeline_run: PipelineRun, tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = base_repository(tmp_path_factory.mktemp("pr") / "repo", pipeline_run)
    retrain(repo, HEAD_RATE)
    with working_directory(repo):
        result = CliRunner().invoke(app, ["report", "--base", "main"])
    assert result.exit_code == 0, result.output
    return repo


def test_the_curves_show_both_models_from_the_bases_committed_tables(pull_request: Path) -> None:
    comment = (pull_request / "reports" / "pr_comment.md").read_text()
    blocks = mermaid_blocks(comment)
    for curve in charts.CURVES:
        [(title, series)] = [(t, s) for t, s in blocks.items() if t.startswith(f"{curve.title} (")]
        base = charts.resample(
            committed_table(pull_request, f"reports/plots/{curve.name}.csv"), curve
        )
        head = charts.resample(
            pd.read_csv(pull_request / "reports" / "plots" / f"{curve.name}.csv"), curve
        )
        assert "blue: base, orange: this branch" in title
        assert series[:2] == [base, head], curve.name
    roc = blocks["ROC (blue: base, orange: this branch, grey: diagonal)"]
    assert roc[0] != roc[1]  # the learning rate changed the model


def test_group_rates_and_importance_charts_hold_base_and_branch(pull_request: Path) -> None:
    comment = (pull_request / "reports" / "pr_comment.md").read_text()
    blocks = mermaid_blocks(comment)
    base = yaml.safe_load(git(pull_request, "show", "main:reports/fairness.json"))
    head = yaml.safe_load((pull_request / "reports" / "fairness.json").read_text())
    [base_bars, head_bars] = blocks["Selection rate by sex (blue: base, orange: this branch)"]
    sexes = ("Female", "Male")
    assert base_bars[0::2] == [round(base["sex"]["groups"][g]["selection_rate"], 4) for g in sexes]
    assert head_bars[1::2] == [round(head["sex"]["groups"][g]["selection_rate"], 4) for g in sexes]
    assert base_bars[1::2] == head_bars[0::2] == [0.0, 0.0]  # side by side, never on top
    for title in ("TPR by race", "Permutation importance", "Mean |contribution|"):
        [(_, series)] = [(t, s) for t, s in blocks.items() if t.startswith(title)]
        assert len(series) == 2 and any(series[0]) and any(series[1]), title


def test_the_comment_counts_flipped_predictions_by_group(
    pull_request: Path, pipeline_run: PipelineRun
) -> None:
    comment = (pull_request / "reports" / "pr_comment.md").read_text()
    found = re.search(r"\*\*([\d,]+) of ([\d,]+) test predictions flip\*\*", comment)
    assert found, comment[:3000]
    base = pd.read_parquet(pipeline_run.workdir / "artifacts" / "predictions" / "test.parquet")
    head = pd.read_parquet(pull_request / "artifacts" / "predictions" / "test.parquet")
    expected = int(((base["y_prob"] >= 0.5) != (head["y_prob"] >= 0.5)).sum())
    assert int(found.group(1).replace(",", "")) == expected > 0
    assert int(found.group(2).replace(",", "")) == len(head)
    flips = comment[comment.index("<summary>Flips by group</summary>") :]
    assert "| sex | Female |" in flips and "| sex | Male |" in flips
    assert "| race | Other | 7 | too small to judge (< 30) |" in flips  # 7 records in the sample


def test_the_comment_explains_and_compares_data_and_cost(pull_request: Path) -> None:
    comment = (pull_request / "reports" / "pr_comment.md").read_text()
    explanations = comment[comment.index("#### Explanations") :]
    assert "TreeSHAP" in explanations and "log-odds" in explanations
    assert re.search(r"\| marital_status \| [\d.]+ \| [\d.]+ \| [+-][\d.]+ \|", explanations)
    assert "Largest changes in mean |contribution| (log-odds)" in comment
    assert "0 of " in comment[comment.index("#### Data") :]  # same data as the base
    assert "| model size (KiB) |" in comment
    cost = comment[comment.index("#### Cost") :]  # timings: both models timed by this report
    assert re.search(r"\| one record, predict \(ms\) \| [\d.]+ \| [\d.]+ \| [+-]\d+% \|", cost)
    assert re.search(r"\| training time \(s\) \| n/a \| [\d.]+ \| n/a \|", cost)
    assert "| `train.hgb.learning_rate` | `0.1` | `0.3` |" in comment
    assert comment.count("| `train.") == 1  # the one change


def test_the_comment_links_no_image_and_lists_the_pngs_for_the_artifact(pull_request: Path) -> None:
    comment = (pull_request / "reports" / "pr_comment.md").read_text()
    assert "![" not in comment and "<img" not in comment
    assert not re.search(r"\]\([^)]*\.png\)", comment)
    listed = (pull_request / "reports" / "pr_figures.txt").read_text().split()
    assert "reports/fairness/sex.png" in listed and "reports/explain/contributions.png" in listed
    assert all((pull_request / path).is_file() for path in listed)
    assert len(comment) < MAX_COMMENT_CHARS
