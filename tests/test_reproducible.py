"""Same inputs, same bytes: two fresh clones of this repository, in different folders, with
different OpenMP thread counts, each `dvc pull` the data and `dvc exp run` the pipeline from a
plain shell (no virtualenv on PATH). Their dvc.lock files are byte-identical, so every output hash
and the model version reproduce. A smaller model and importance sample keep it short; the full
params are checked the same way by hand (README, Reproducible to the bit)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import ROOT

SMALL = (
    "train.hgb.max_iter=40",
    "evaluate.importance.n_repeats=1",
    "evaluate.importance.sample=300",
)


def plain_shell(**extra: str) -> dict[str, str]:
    path = [entry for entry in os.environ["PATH"].split(os.pathsep) if sys.prefix not in entry]
    dropped = {"VIRTUAL_ENV", "GREENLIGHT_PYTHON", "PYTHONPATH", "PYTHONHASHSEED"}
    kept = {key: value for key, value in os.environ.items() if key not in dropped}
    return kept | {"PATH": os.pathsep.join(path), **extra}


def fresh_clone(destination: Path) -> Path:
    """`git clone` of the committed repository, with this test run's virtualenv as its .venv
    (what `make setup` would install from the same requirements.lock)."""
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(destination)], check=True)
    (destination / ".venv").symlink_to(sys.prefix)
    return destination


def dvc(clone: Path, *args: str, threads: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(clone / ".venv" / "bin" / "dvc"), *args],
        cwd=clone,
        capture_output=True,
        text=True,
        check=False,
        env=plain_shell(OMP_NUM_THREADS=threads),
    )
    assert done.returncode == 0, f"dvc {' '.join(args)}: {done.stderr[-3000:]}"
    return done


def reproduce(clone: Path, threads: str) -> tuple[bytes, str]:
    dvc(clone, "pull", "--quiet", "data.dvc", threads=threads)
    settings = [part for value in SMALL for part in ("--set-param", value)]
    dvc(clone, "exp", "run", *settings, threads=threads)
    manifest = json.loads((clone / "models" / "bundle" / "manifest.json").read_text())
    return (clone / "dvc.lock").read_bytes(), manifest["model_version"]


@pytest.mark.slow
def test_two_fresh_clones_reproduce_every_output_hash_and_the_model_version(
    tmp_path: Path,
) -> None:
    first = fresh_clone(tmp_path / "one")
    second = fresh_clone(tmp_path / "elsewhere" / "two")
    lock, version = reproduce(first, threads="1")
    again, same_version = reproduce(second, threads="2")
    assert again == lock
    assert same_version == version and version.startswith("hgb-")
    stages = yaml.safe_load(lock)["stages"]
    outs = [out for stage in stages.values() for out in stage["outs"]]
    assert len(outs) >= 13 and all(out.get("md5") for out in outs)
    assert stages["train"]["params"]["params.yaml"]["train"]["hgb"]["max_iter"] == 40
    shown = dvc(first, "exp", "show", "--json", threads="1")
    assert "accuracy" in shown.stdout
