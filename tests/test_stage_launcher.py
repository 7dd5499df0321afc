"""bin/stage, the command of every dvc.yaml stage: it finds the project's virtualenv without PATH
(in the folder or above it, as in a queued experiment's .dvc/tmp/exps/<tmp>/), runs the code of
the folder it runs in, and says what to do when there is no virtualenv."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

LAUNCHER = ROOT / "bin" / "stage"
HELLO = """
import os
import greenlight


def main(params):
    return {"package": greenlight.__file__, "hash_seed": os.environ["PYTHONHASHSEED"]}
"""


def plain_shell() -> dict[str, str]:
    path = [entry for entry in os.environ["PATH"].split(os.pathsep) if sys.prefix not in entry]
    dropped = {"VIRTUAL_ENV", "GREENLIGHT_PYTHON", "PYTHONPATH", "PYTHONHASHSEED"}
    kept = {key: value for key, value in os.environ.items() if key not in dropped}
    return kept | {"PATH": os.pathsep.join(path)}


def checkout_with_queued_experiment(root: Path) -> Path:
    """<root>/.venv (this test run's virtualenv) and an experiment folder below it with its own
    copy of the code, a stage `hello` added."""
    (root / ".venv").symlink_to(sys.prefix)
    experiment = root / ".dvc" / "tmp" / "exps" / "tmpabc"
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(ROOT / "src", experiment / "src", ignore=ignore)
    (experiment / "src" / "greenlight" / "stages" / "hello.py").write_text(HELLO)
    for name in ("params.yaml", "schema.yaml"):
        shutil.copy(ROOT / name, experiment / name)
    return experiment


def run(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LAUNCHER), *args],
        cwd=cwd,
        env=plain_shell() | env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_a_queued_experiment_finds_the_virtualenv_above_and_runs_its_own_code(
    tmp_path: Path,
) -> None:
    experiment = checkout_with_queued_experiment(tmp_path)
    done = run(experiment, "hello")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["package"] == str(experiment / "src" / "greenlight" / "__init__.py")
    assert summary["hash_seed"] == "0"


def test_greenlight_python_overrides_the_search(tmp_path: Path) -> None:
    experiment = checkout_with_queued_experiment(tmp_path)
    (tmp_path / ".venv").unlink()
    done = run(experiment, "hello", GREENLIGHT_PYTHON=sys.executable)
    assert done.returncode == 0, done.stderr


def test_without_a_virtualenv_it_says_to_run_make_setup(tmp_path: Path) -> None:
    done = run(tmp_path, "validate")
    assert done.returncode == 127
    assert "run 'make setup' first" in done.stderr


def test_an_unknown_stage_is_bad_input_named_by_name(tmp_path: Path) -> None:
    experiment = checkout_with_queued_experiment(tmp_path)
    done = run(experiment, "nosuch")
    assert done.returncode == 2
    assert "no stage 'nosuch'" in done.stderr
