"""The `performance` issue end to end against the GitHub stand-in (tests/fake_github.py, a real
HTTP server reached through GITHUB_API_URL): a degraded run opens one issue labelled
`performance`, the next one updates it, a drift issue is never touched, and the issue text names
no sensitive attribute even when the run measured fairness from the separate file."""

from __future__ import annotations

import pytest
from drift_fixtures import log_of_fixture, sample_fixture  # noqa: F401
from test_drift_cli import greenlight_fixture  # noqa: F401
from test_performance import Cli, cli_fixture, flipped, logged, write_csv, write_labels  # noqa: F401

from fake_github import FakeGitHub
from greenlight.errors import ExitCode
from greenlight.monitor.issue import DRIFT, PERFORMANCE

RUN = "https://github.com/acme/shop/actions/runs/{}"


@pytest.fixture(name="github")
def github_fixture(monkeypatch):
    fake = FakeGitHub()
    with fake.serve() as url:
        monkeypatch.setenv("GITHUB_API_URL", url)
        monkeypatch.setenv("GITHUB_TOKEN", fake.token)
        monkeypatch.setenv("GITHUB_REPOSITORY", fake.repository)
        yield fake


def degraded_run(cli: Cli, sample, log_of) -> None:
    """600 outcomes, 30 % flipped, measured with the sensitive-attribute file: exit 3."""
    records = sample.test.sample(600, random_state=5)
    log = log_of(records)
    predictions = logged(log)
    labels = flipped(records, 0.3, 2)
    assert (
        cli.import_labels(
            write_labels(cli.tmp_path / "l.csv", predictions["request_id"], labels), log
        )
        == 0
    )
    sensitive = write_csv(
        cli.tmp_path / "sensitive.csv",
        request_id=predictions["request_id"],
        record=[0] * 600,
        sex=records["sex"],
        race=records["race"],
    )
    assert cli.measure(log, "--sensitive", sensitive) == ExitCode.DRIFT
    assert "`sex`" in cli.report("performance.md")  # the full report names the attributes


def open_issue(cli: Cli, run: int) -> int:
    summary = cli.tmp_path / "reports" / "performance-issue.md"
    args = ["--run-url", RUN.format(run), "--summary", summary]
    return cli.greenlight("monitor", "performance-issue", *args)


def test_a_degradation_opens_one_performance_issue_then_updates_it(
    cli, sample, log_of, github, capsys
):
    drift = github.add_issue(DRIFT.title, "drift body", ["drift"])
    degraded_run(cli, sample, log_of)
    assert open_issue(cli, 41) == 0
    [issue] = github.open_issues_labelled("performance")
    assert "created performance issue" in capsys.readouterr().out
    assert issue["title"] == PERFORMANCE.title
    assert issue["body"].startswith("## Live performance: degraded")
    assert RUN.format(41) in issue["body"]
    assert github.labels["performance"]["color"] == PERFORMANCE.color
    for word in ("sex", "race", "Female", "White"):
        assert word not in issue["body"]
    assert open_issue(cli, 42) == 0
    assert github.open_issues_labelled("performance") == [issue]
    assert RUN.format(42) in issue["body"] and RUN.format(41) not in issue["body"]
    [comment] = github.comments[issue["number"]]
    assert comment["body"].startswith(f"Degradation measured again: {RUN.format(42)}")
    assert "sex" not in comment["body"]
    assert drift["body"] == "drift body" and not github.comments.get(drift["number"])


def test_no_summary_is_bad_input_naming_the_command(cli, github, capsys):
    assert open_issue(cli, 43) == 2
    assert "run `greenlight monitor performance` first" in capsys.readouterr().err
    assert github.issues == {}
