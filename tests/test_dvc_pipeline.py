"""dvc.yaml wiring and the embedded remote: cheap structural checks, then one real `dvc repro`
of the whole pipeline on the sample data in a scratch repository (slow)."""

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

ROOT = Path(__file__).resolve().parents[1]
DVC_YAML = yaml.safe_load((ROOT / "dvc.yaml").read_text())
STAGES = DVC_YAML["stages"]


def test_every_stage_calls_a_greenlight_command_that_exists() -> None:
    commands = {command.name or command.callback.__name__ for command in app.registered_commands}
    for name, stage in STAGES.items():
        assert stage["cmd"] == f"greenlight {name}"
        assert name in commands


def test_every_stage_depends_on_its_own_module() -> None:
    for name, stage in STAGES.items():
        assert f"src/greenlight/stages/{name}.py" in stage["deps"], name


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


BIN = Path(sys.executable).parent
ENV = os.environ | {"PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}  # stages call `greenlight`


def dvc(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "dvc"), *args], cwd=repo, env=ENV, capture_output=True, text=True, check=False
    )


def scratch_repository(path: Path) -> Path:
    for name in ("dvc.yaml", "params.yaml", "schema.yaml"):
        shutil.copy(ROOT / name, path / name)
    shutil.copytree(ROOT / "src", path / "src", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(SAMPLE, path / "data" / "adult", ignore=shutil.ignore_patterns("*.md"))
    params = yaml.safe_load((path / "params.yaml").read_text())
    params["train"]["hgb"]["max_iter"] = 50
    params["evaluate"]["importance"].update(n_repeats=1, sample=200)
    (path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
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
