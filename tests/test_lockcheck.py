"""The committed dvc.lock against the one the repro wrote: any stage whose recorded hashes,
params or command differ is named with the paths that differ; `greenlight check-lock` fails."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml
from typer.testing import CliRunner

from conftest import working_directory
from greenlight.cli import app
from greenlight.lockcheck import StaleStage, compare, stale_stages

LOCK = {
    "schema": "2.0",
    "stages": {
        "featurize": {
            "cmd": "bin/stage featurize",
            "deps": [{"path": "src/greenlight/features.py", "hash": "md5", "md5": "aaa"}],
            "params": {"params.yaml": {"featurize": {"seed": 42}}},
            "outs": [{"path": "artifacts/split", "hash": "md5", "md5": "b.dir", "nfiles": 3}],
        },
        "train": {
            "cmd": "bin/stage train",
            "deps": [{"path": "artifacts/split", "hash": "md5", "md5": "b.dir", "nfiles": 3}],
            "outs": [{"path": "models/bundle", "hash": "md5", "md5": "c.dir", "nfiles": 3}],
        },
    },
}


def changed(**edits: object) -> dict:
    produced = yaml.safe_load(yaml.safe_dump(LOCK))
    for dotted, value in edits.items():
        stage, kind, index, key = dotted.split("__")
        produced["stages"][stage][kind][int(index)][key] = value
    return produced


def test_the_same_lock_is_current() -> None:
    assert stale_stages(LOCK, yaml.safe_load(yaml.safe_dump(LOCK))) == []


def test_a_changed_dep_and_out_name_their_stages_and_paths() -> None:
    produced = changed(featurize__deps__0__md5="new", train__outs__0__md5="d.dir")
    assert stale_stages(LOCK, produced) == [
        StaleStage("featurize", ("src/greenlight/features.py",)),
        StaleStage("train", ("models/bundle",)),
    ]


def test_params_command_and_missing_stages_count() -> None:
    produced = yaml.safe_load(yaml.safe_dump(LOCK))
    produced["stages"]["featurize"]["params"]["params.yaml"]["featurize"] = {"seed": 1}
    produced["stages"]["train"]["cmd"] = "bin/stage train --params other.yaml"
    produced["stages"]["card"] = {"cmd": "bin/stage card"}
    assert stale_stages(LOCK, produced) == [
        StaleStage("featurize", ("params.yaml:featurize",)),
        StaleStage("train", ("cmd",)),
        StaleStage("card", ("absent from the committed dvc.lock",)),
    ]


def test_no_committed_lock_or_other_bytes_are_stale_too() -> None:
    text = yaml.safe_dump(LOCK)
    assert compare(None, text) == [StaleStage("dvc.lock", ("not committed at all",))]
    assert compare(text, text) == []
    assert compare(text, text + "\n") == [
        StaleStage("dvc.lock", ("same records, written differently",))
    ]


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def test_check_lock_fails_naming_stages_and_paths_until_the_lock_is_committed(
    tmp_path: Path,
) -> None:
    (tmp_path / "dvc.lock").write_text(yaml.safe_dump(LOCK))
    git(tmp_path, "init", "--quiet")
    git(tmp_path, "add", "dvc.lock")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "lock")
    runner = CliRunner()
    with working_directory(tmp_path):
        assert runner.invoke(app, ["check-lock"]).exit_code == 0
        (tmp_path / "dvc.lock").write_text(yaml.safe_dump(changed(train__outs__0__md5="x.dir")))
        result = runner.invoke(app, ["check-lock"])
    assert result.exit_code == 1
    assert "dvc.lock is stale: stages train (models/bundle)" in result.output
