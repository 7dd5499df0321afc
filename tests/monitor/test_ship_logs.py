"""`greenlight ship-logs` against local targets (a folder, file://, remote://<a local DVC remote>):
the target mirrors the log folder, never holds half a line, and drift-fetch brings it back."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from greenlight.errors import ConfigError
from greenlight.monitor.fetch import fetch_log
from greenlight.monitor.ship import complete_lines, resolve, ship_logs, stale, storage_errors

ROOT = Path(__file__).resolve().parents[2]
LINE = b'{"log_format": 1, "n": %d}\n'


@pytest.fixture
def log(tmp_path: Path) -> Path:
    folder = tmp_path / "logs"
    folder.mkdir()
    (folder / "predictions.jsonl.1").write_bytes(LINE % 1 + LINE % 2)
    (folder / "predictions.jsonl").write_bytes(LINE % 3 + b'{"log_format": 1, "n"')  # mid-write
    (folder / "other.txt").write_text("not a log")
    return folder / "predictions.jsonl"


def names(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


@pytest.mark.parametrize("scheme", ["", "file://"])
def test_the_target_mirrors_the_log_files_up_to_the_last_whole_line(log, tmp_path, scheme) -> None:
    target = tmp_path / "bucket" / "prediction-logs"
    target.mkdir(parents=True)
    (target / "predictions.jsonl.5").write_bytes(LINE % 0)  # rotated away since the last ship
    (target / "README").write_text("kept")
    shipped = ship_logs(log, f"{scheme}{target}", {})
    assert shipped == ["predictions.jsonl", "predictions.jsonl.1"]
    assert names(target) == ["README", "predictions.jsonl", "predictions.jsonl.1"]
    assert (target / "predictions.jsonl").read_bytes() == LINE % 3
    assert (target / "predictions.jsonl.1").read_bytes() == LINE % 1 + LINE % 2


def test_drift_fetch_brings_back_what_was_shipped(log, tmp_path) -> None:
    target = tmp_path / "bucket"
    ship_logs(log, str(target), {})
    fetched = fetch_log(str(target), tmp_path / "fetched" / "predictions.jsonl")
    assert [path.name for path in fetched] == ["predictions.jsonl", "predictions.jsonl.1"]
    assert (tmp_path / "fetched" / "predictions.jsonl").read_bytes() == LINE % 3


def test_a_remote_folder_resolves_through_the_dvc_remotes_settings(log, tmp_path) -> None:
    remotes = {"team": {"url": str(tmp_path / "team"), "endpointurl": "http://127.0.0.1:9000"}}
    assert resolve("remote://team/prediction-logs", remotes) == (
        f"{tmp_path / 'team'}/prediction-logs",
        {"endpoint_url": "http://127.0.0.1:9000"},
    )
    ship_logs(log, "remote://team/prediction-logs", {"team": {"url": str(tmp_path / "team")}})
    assert names(tmp_path / "team" / "prediction-logs") == [
        "predictions.jsonl",
        "predictions.jsonl.1",
    ]
    with pytest.raises(ConfigError, match="no DVC remote 'team' \\(configured: embedded\\)"):
        resolve("remote://team/prediction-logs", {"embedded": {"url": "/x"}})


def test_the_pure_parts() -> None:
    assert complete_lines(b"a\nb\nc") == b"a\nb\n" and complete_lines(b"half") == b""
    listed = ["predictions.jsonl", "predictions.jsonl.1", "predictions.jsonl.2", "x.jsonl.2"]
    assert stale(listed, {"predictions.jsonl", "predictions.jsonl.1"}, "predictions.jsonl") == [
        "predictions.jsonl.2"
    ]


def test_the_command_ships_and_says_where(log, tmp_path) -> None:
    target = tmp_path / "out"
    command = [
        sys.executable,
        "-m",
        "greenlight",
        "ship-logs",
        "--log",
        str(log),
        "--target",
        str(target),
    ]
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, check=False, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert f"shipped 2 log file(s) to {target}" in done.stdout
    missing = [*command[:-4], "--log", str(tmp_path / "none.jsonl"), "--target", str(target)]
    done = subprocess.run(
        missing, cwd=ROOT, capture_output=True, text=True, check=False, timeout=120
    )
    assert done.returncode == 2 and "none.jsonl" in done.stderr


def greenlight(*args: object, github_output: Path | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "greenlight", *map(str, args)]
    env = {**os.environ, "GITHUB_OUTPUT": str(github_output or os.devnull)}
    return subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, check=False, timeout=120, env=env
    )


def test_the_outcome_log_beside_travels_with_the_prediction_log(log, tmp_path) -> None:
    """POST /feedback writes outcomes.jsonl beside the prediction log; ship-logs mirrors it to the
    same folder and `outcomes fetch` brings it (and only it) back."""
    target, fetched = tmp_path / "bucket", tmp_path / "ci" / "outcomes.jsonl"
    outcome = b'{"outcome_format":1,"request_id":"a","record":0,"label":">50K"}\n'
    missing = greenlight(
        "outcomes", "fetch", "--source", target, "--outcome-log", fetched, "--missing-ok",
        github_output=tmp_path / "before",
    )  # fmt: skip
    assert missing.returncode == 0, missing.stderr
    assert "no outcome log yet" in missing.stdout
    assert (tmp_path / "before").read_text() == "fetched=false\n"
    log.with_name("outcomes.jsonl").write_bytes(outcome + b'{"outcome_format":1,')  # mid-write
    shipped = greenlight("ship-logs", "--log", log, "--target", target)
    assert shipped.returncode == 0, shipped.stderr
    assert "shipped 3 log file(s)" in shipped.stdout
    done = greenlight(
        "outcomes", "fetch", "--source", target, "--outcome-log", fetched, "--missing-ok",
        github_output=tmp_path / "after",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "after").read_text() == "fetched=true\n"
    assert names(fetched.parent) == ["outcomes.jsonl"] and fetched.read_bytes() == outcome


def test_a_target_that_cannot_be_written_exits_4_naming_it(log, tmp_path) -> None:
    """The store, not the input, failed: exit 4 (retry later), one line, no traceback."""
    (tmp_path / "a-file").write_text("not a folder")
    target = tmp_path / "a-file" / "prediction-logs"
    done = greenlight("ship-logs", "--log", log, "--target", target)
    assert done.returncode == 4, done.stderr
    assert f"could not ship predictions.jsonl to {target}" in done.stderr
    assert "Traceback" not in done.stderr


def test_an_s3_endpoint_that_is_down_is_a_storage_error() -> None:
    """s3fs passes botocore's connection errors on untranslated: they count as the store's."""
    from botocore.exceptions import EndpointConnectionError

    assert issubclass(EndpointConnectionError, storage_errors())
    assert issubclass(FileNotFoundError, storage_errors())


def test_fetching_from_a_store_that_is_down_exits_4(tmp_path) -> None:
    """A DVC remote whose endpoint refuses connections: exit 4, not "no log shipped yet" (which
    --missing-ok would turn into a green notice)."""
    repo = tmp_path / "repo"
    dvc = [str(Path(sys.executable).with_name("dvc"))]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run([*dvc, "init", "-q"], cwd=repo, check=True)
    subprocess.run([*dvc, "remote", "add", "team", "s3://bucket/store"], cwd=repo, check=True)
    endpoint = ["remote", "modify", "team", "endpointurl", "http://127.0.0.1:9"]
    subprocess.run([*dvc, *endpoint], cwd=repo, check=True)
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
    command = [sys.executable, "-m", "greenlight", "drift-fetch", "--missing-ok"]
    command += ["--params", str(ROOT / "params.yaml"), "--source", "remote://team/logs"]
    command += ["--log", str(tmp_path / "logs" / "predictions.jsonl")]
    done = subprocess.run(
        command, cwd=repo, capture_output=True, text=True, check=False, timeout=120, env=env
    )
    assert done.returncode == 4, done.stderr
    assert "could not fetch the prediction log from remote://team/logs" in done.stderr
    assert "Could not connect to the endpoint URL" in done.stderr
