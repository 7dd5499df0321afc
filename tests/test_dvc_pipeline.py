"""dvc.yaml wiring and the embedded remote: cheap structural checks, then real `dvc repro` runs
of the whole pipeline on the sample data in a scratch repository (slow), from a shell whose PATH
has no virtualenv, including a failing stage."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import SAMPLE
from greenlight.cli import app
from greenlight.stages.runner import stage_module
from tools.devtools import stage_deps

ROOT = Path(__file__).resolve().parents[1]
DVC_YAML = yaml.safe_load((ROOT / "dvc.yaml").read_text())
STAGES = DVC_YAML["stages"]


def test_every_stage_runs_a_stage_module_that_exists_and_a_command_of_that_name() -> None:
    commands = {command.name or command.callback.__name__ for command in app.registered_commands}
    for name, stage in STAGES.items():
        assert stage["cmd"] == f"bin/stage {name}"
        assert callable(stage_module(name).main)
        assert name in commands


def test_every_stage_lists_every_module_it_imports() -> None:
    package = stage_deps.Package(ROOT / "src")
    assert stage_deps.missing_deps(DVC_YAML, package, ROOT) == []


def test_declared_plots_point_at_files_the_evaluate_stage_writes() -> None:
    outputs = [
        next(iter(out)) if isinstance(out, dict) else out for out in STAGES["evaluate"]["outs"]
    ]
    for plot in DVC_YAML["plots"]:
        [(_, spec)] = plot.items()
        [path] = spec["y"]
        assert any(path.startswith(out) for out in outputs), path


def test_embedded_remote_holds_every_file_of_data_dvc() -> None:
    pointer = yaml.safe_load((ROOT / "data.dvc").read_text())["outs"][0]
    digest = pointer["md5"]
    listing = ROOT / "dvc-remote" / "files" / "md5" / digest[:2] / digest[2:]
    entries = json.loads(listing.read_text())
    assert len(entries) == pointer["nfiles"]
    for entry in entries:
        md5 = entry["md5"]
        assert (ROOT / "dvc-remote" / "files" / "md5" / md5[:2] / md5[2:]).is_file(), entry[
            "relpath"
        ]
    assert "url = ../dvc-remote" in (ROOT / ".dvc" / "config").read_text()


VENV = Path(sys.prefix)


def plain_environment() -> dict[str, str]:
    """A shell after `make setup` without activating anything: no virtualenv on PATH, none of the
    variables the Makefile sets."""
    path = [entry for entry in os.environ["PATH"].split(os.pathsep) if str(VENV) not in entry]
    dropped = {"VIRTUAL_ENV", "GREENLIGHT_PYTHON", "PYTHONPATH", "PYTHONHASHSEED"}
    environment = {key: value for key, value in os.environ.items() if key not in dropped}
    return environment | {"PATH": os.pathsep.join(path)}


def dvc(repo: Path, *args: str) -> subprocess.CompletedProcess:
    """`.venv/bin/dvc ...` in `repo`, whose .venv is this test run's virtualenv (a link)."""
    command = [str(repo / ".venv" / "bin" / "dvc"), *args]
    environment = plain_environment()
    return subprocess.run(
        command, cwd=repo, env=environment, capture_output=True, text=True, check=False
    )


def scratch_repository(path: Path) -> Path:
    for name in ("dvc.yaml", "params.yaml", "schema.yaml", "requirements.lock"):
        shutil.copy(ROOT / name, path / name)
    shutil.copytree(ROOT / "src", path / "src", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "bin", path / "bin")
    (path / ".venv").symlink_to(VENV)
    shutil.copytree(SAMPLE, path / "data" / "adult", ignore=shutil.ignore_patterns("*.md"))
    params = yaml.safe_load((path / "params.yaml").read_text())
    params["train"]["hgb"]["max_iter"] = 50
    params["evaluate"]["importance"].update(n_repeats=1, sample=200)
    (path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (path / ".gitignore").write_text("/.venv\n")
    subprocess.run(["git", "init", "-q"], cwd=path, check=True)
    assert dvc(path, "init", "-q").returncode == 0
    return path


@pytest.mark.slow
def test_dvc_repro_runs_every_stage_then_nothing(tmp_path: Path) -> None:
    repo = scratch_repository(tmp_path)
    first = dvc(repo, "repro")
    assert first.returncode == 0, first.stderr[-2000:]
    for stage in STAGES:
        assert f"Running stage '{stage}'" in first.stdout
    assert (repo / "models" / "bundle" / "manifest.json").is_file()
    assert json.loads((repo / "reports" / "metrics.json").read_text())["accuracy"] > 0.75
    second = dvc(repo, "repro")
    assert second.returncode == 0
    assert "Running stage" not in second.stdout
    plots = dvc(repo, "plots", "show", "--json")
    assert plots.returncode == 0, plots.stderr[-2000:]
    rendered = json.loads(plots.stdout)["data"]
    assert set(rendered) == {"ROC", "Precision-recall", "Calibration", "Confusion"}


@pytest.mark.slow
def test_a_failed_stage_leaves_the_last_good_outputs_and_dvc_lock(tmp_path: Path) -> None:
    """Bad data: validate fails and every output stays as it was (validate persists its folder and
    writes it whole or not at all). A failing train (its input broken): DVC removed the bundle
    before the command ran, but dvc.lock still names the last good one, and `dvc checkout`
    brings its bytes back."""
    repo = scratch_repository(tmp_path)
    assert dvc(repo, "repro").returncode == 0
    lock, snapshot = (repo / "dvc.lock").read_bytes(), outputs(repo)
    data = repo / "data" / "adult" / "adult.data"
    good = data.read_text()
    data.write_text(good.replace(", Private,", ", Privat,", 1))
    failed = dvc(repo, "repro")
    assert failed.returncode != 0 and "failed to reproduce 'validate'" in failed.stderr
    assert (repo / "reports" / "validation_failure.json").is_file()  # what was wrong, by line
    assert (repo / "dvc.lock").read_bytes() == lock and outputs(repo) == snapshot
    data.write_text(good)
    (repo / "artifacts" / "preprocessor.skops").write_bytes(b"not a zip")
    failed = dvc(repo, "repro", "--single-item", "train")
    assert failed.returncode != 0 and "not a valid skops file" in failed.stderr
    assert (repo / "dvc.lock").read_bytes() == lock
    assert dvc(repo, "checkout", "--force").returncode == 0  # --force: the broken input too
    assert outputs(repo) == snapshot


def outputs(repo: Path) -> dict[str, bytes]:
    folders = ("artifacts", "models", "reports")
    return {
        str(path.relative_to(repo)): path.read_bytes()
        for folder in folders
        for path in sorted((repo / folder).rglob("*"))
        if path.is_file() and path.name not in ("provenance.json", "validation_failure.json")
    }
