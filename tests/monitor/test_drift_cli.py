"""`greenlight drift`, `drift-fetch` and `drift-issue` as a user or a workflow calls them: exit
codes 0 (no drift), 3 (drift), 2 (bad input, one clear line), and their outputs."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pandas as pd
import pytest
from drift_fixtures import NOW, log_of_fixture, sample_fixture  # noqa: F401
from test_drift import shifted

from greenlight import cli, github
from greenlight.errors import ExitCode
from test_github import FakeGitHub

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(name="greenlight")
def greenlight_fixture(monkeypatch) -> Callable[..., int]:
    """Run the console entry point in-process with these arguments; its exit code."""

    def run(*args: object) -> int:
        monkeypatch.setattr(sys, "argv", ["greenlight", *map(str, args)])
        try:
            cli.main()
        except SystemExit as done:
            return int(done.code or 0)
        return 0

    return run


@pytest.fixture(name="drift_args")
def drift_args_fixture(sample, tmp_path) -> list[str]:
    return [
        "drift",
        "--params",
        str(ROOT / "params.yaml"),
        "--bundle",
        str(sample.bundle_dir),
        "--reference",
        str(sample.reference),
        "--reports",
        str(tmp_path / "reports"),
        "--until",
        NOW.isoformat(),
    ]


def test_drift_exits_3_and_tells_the_workflow(greenlight, capsys, sample, log_of, drift_args):
    log = log_of(shifted(sample.test.sample(400, random_state=5)))
    output = log.parent / "github_output"
    code = greenlight(*drift_args, "--log", log, "--github-output", output)
    assert code == ExitCode.DRIFT == 3
    printed = capsys.readouterr().out
    assert "DRIFT" in printed and "age" in printed and "hours_per_week" in printed
    assert output.read_text() == "drift=true\n"
    reports = Path(drift_args[drift_args.index("--reports") + 1])
    assert json.loads((reports / "drift.json").read_text())["verdict"] == "drift"


def test_no_drift_exits_0(greenlight, capsys, sample, log_of, drift_args):
    log = log_of(sample.test.sample(400, random_state=0))
    output = log.parent / "github_output"
    assert greenlight(*drift_args, "--log", log, "--github-output", output) == 0
    assert "no drift" in capsys.readouterr().out
    assert output.read_text() == "drift=false\n"


def test_a_missing_log_exits_2_with_one_clear_line(greenlight, capsys, drift_args, tmp_path):
    code = greenlight(*drift_args, "--log", tmp_path / "nowhere" / "predictions.jsonl")
    assert code == 2
    error = capsys.readouterr().err
    assert error.startswith("error: no prediction log at") and "Traceback" not in error
    assert not (tmp_path / "reports").exists()


def test_an_empty_window_exits_2_and_says_what_the_log_covers(
    greenlight, capsys, sample, log_of, drift_args
):
    log = log_of(sample.test.head(50))
    code = greenlight(*drift_args, "--log", log, "--until", "2030-01-01T00:00:00Z")
    assert code == 2
    assert "no prediction in the last 7 days before 2030-01-01" in capsys.readouterr().err


def test_a_bad_log_line_exits_2_naming_file_and_line(
    greenlight, capsys, sample, log_of, drift_args
):
    log = log_of(sample.test.head(5))
    with log.open("a") as stream:
        stream.write('{"log_format": 2}\n')
    assert greenlight(*drift_args, "--log", log) == 2
    assert f"{log}:6: log_format 2 is not supported" in capsys.readouterr().err


def test_a_reference_without_a_model_feature_exits_2(
    greenlight, capsys, sample, log_of, drift_args
):
    log = log_of(sample.test.head(20))
    partial = log.parent / "reference.parquet"
    pd.read_parquet(sample.reference).drop(columns=["age"]).to_parquet(partial)
    args = [*drift_args, "--log", log]
    args[args.index("--reference") + 1] = str(partial)
    assert greenlight(*args) == 2
    assert "lacks the model's features ['age']" in capsys.readouterr().err


def test_drift_issue_opens_then_updates_one_issue(greenlight, monkeypatch, capsys, tmp_path):
    fake = FakeGitHub(label_exists=False)
    real_client = github.GitHub.from_env

    def with_fake_transport(env: dict[str, str]) -> github.GitHub:
        assert (env["GITHUB_REPOSITORY"], env["GITHUB_TOKEN"]) == ("acme/shop", "t0ken")
        return real_client(env, transport=httpx.MockTransport(fake))

    monkeypatch.setattr(github.GitHub, "from_env", with_fake_transport)
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/shop")
    monkeypatch.setenv("GITHUB_TOKEN", "t0ken")
    summary = tmp_path / "drift.md"
    summary.write_text("## Drift detected in production traffic\n")
    run = "https://github.com/acme/shop/actions/runs/1"
    assert greenlight("drift-issue", "--summary", summary, "--run-url", run) == 0
    # the fake lists issue 7 as open with the label: the command updates it, creates nothing
    assert "updated drift issue #7" in capsys.readouterr().out
    methods = [(r.method, r.url.path) for r in fake.requests]
    assert ("PATCH", "/repos/acme/shop/issues/7") in methods
    assert ("POST", "/repos/acme/shop/issues") not in methods


def test_drift_issue_without_a_token_exits_2(greenlight, monkeypatch, capsys, tmp_path):
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    summary = tmp_path / "drift.md"
    summary.write_text("## Drift\n")
    args = ["drift-issue", "--summary", summary, "--run-url", "u", "--repository", "acme/shop"]
    assert greenlight(*args) == 2
    assert "GITHUB_TOKEN" in capsys.readouterr().err


def test_drift_fetch_replaces_the_local_log_files_with_the_sources(
    greenlight, capsys, sample, log_of, tmp_path
):
    shipped = log_of(sample.test.head(3), name="shipped")
    shipped.with_name("predictions.jsonl.1").write_text(shipped.read_text())
    local = tmp_path / "local" / "logs"
    local.mkdir(parents=True)
    (local / "predictions.jsonl.3").write_text("stale\n")  # an older fetch's rotated file
    (local / "notes.txt").write_text("kept\n")
    target = local / "predictions.jsonl"
    args = ["drift-fetch", "--params", ROOT / "params.yaml", "--source", shipped.parent]
    assert greenlight(*args, "--log", target) == 0
    assert "fetched 2 log file(s)" in capsys.readouterr().out
    assert sorted(path.name for path in local.iterdir()) == [
        "notes.txt",
        "predictions.jsonl",
        "predictions.jsonl.1",
    ]
    assert target.read_text() == shipped.read_text()
    # a single file as the source becomes the log
    assert greenlight(*args[:-1], shipped, "--log", target) == 0
    assert sorted(path.name for path in local.iterdir()) == ["notes.txt", "predictions.jsonl"]


def test_drift_fetch_from_a_source_without_a_log_exits_2(greenlight, capsys, tmp_path):
    (tmp_path / "empty").mkdir()
    args = ["drift-fetch", "--params", ROOT / "params.yaml", "--source", tmp_path / "empty"]
    assert greenlight(*args, "--log", tmp_path / "logs" / "predictions.jsonl") == 2
    assert "holds no prediction log yet" in capsys.readouterr().err


def test_drift_fetch_from_a_missing_source_exits_2(greenlight, capsys, tmp_path):
    args = ["drift-fetch", "--params", ROOT / "params.yaml", "--source", tmp_path / "none"]
    args += ["--log", tmp_path / "logs" / "predictions.jsonl"]
    assert greenlight(*args) == 2
    assert "holds no prediction log yet" in capsys.readouterr().err


@pytest.mark.parametrize("source", ["empty", "none"])
def test_drift_fetch_missing_ok_makes_a_source_without_a_log_a_notice(
    greenlight, capsys, tmp_path, source
):
    """A team remote that no deployment has shipped to yet: the drift job says so, green."""
    (tmp_path / "empty").mkdir()
    output, summary = tmp_path / "output", tmp_path / "summary.md"
    args = ["drift-fetch", "--params", ROOT / "params.yaml", "--source", tmp_path / source]
    args += ["--log", tmp_path / "logs" / "predictions.jsonl", "--missing-ok"]
    assert greenlight(*args, "--github-output", output, "--summary", summary) == 0
    assert output.read_text() == "fetched=false\n"
    assert "no prediction log shipped yet" in summary.read_text()
    assert "::notice" in capsys.readouterr().out


def test_drift_fetch_missing_ok_still_fails_on_a_source_it_cannot_read(
    greenlight, capsys, tmp_path
):
    output = tmp_path / "output"
    args = ["drift-fetch", "--params", ROOT / "params.yaml", "--source", "foo://bucket/logs"]
    args += ["--log", tmp_path / "logs" / "predictions.jsonl", "--missing-ok"]
    assert greenlight(*args, "--github-output", output) == 2
    assert "could not fetch the prediction log from foo://bucket/logs" in capsys.readouterr().err
    assert not output.exists()


def test_drift_fetch_says_fetched_true_to_the_workflow(greenlight, sample, log_of, tmp_path):
    shipped = log_of(sample.test.head(3), name="shipped")
    output = tmp_path / "output"
    args = ["drift-fetch", "--params", ROOT / "params.yaml", "--source", shipped.parent]
    args += ["--log", tmp_path / "logs" / "predictions.jsonl", "--missing-ok"]
    assert greenlight(*args, "--github-output", output) == 0
    assert output.read_text() == "fetched=true\n"
