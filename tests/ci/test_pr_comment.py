"""`greenlight pr-comment` against a fake GitHub: one comment per pull request, found by its
marker across pages, edited on the next push; the number comes from the event payload."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fake_github import FakeGitHub
from greenlight.errors import ConfigError, MissingInputError
from greenlight.github import GitHub, GitHubError
from greenlight.prcomment import MARKER, marked, post_report, pr_number


def client(fake: FakeGitHub) -> GitHub:
    return GitHub(fake.repository, fake.token, transport=fake.transport())


def test_the_first_push_creates_the_comment_and_the_second_edits_it() -> None:
    fake = FakeGitHub()
    fake.add_comment(7, "LGTM")
    first = post_report(client(fake), 7, "# passed\nfirst")
    second = post_report(client(fake), 7, "# failed\nsecond")
    assert (first.action, second.action) == ("created", "updated")
    assert first.comment.id == second.comment.id
    bodies = [item["body"] for item in fake.comments[7]]
    assert bodies == ["LGTM", f"{MARKER}\n# failed\nsecond\n"]


def test_the_marker_is_found_past_the_first_page() -> None:
    fake = FakeGitHub()
    for index in range(230):
        fake.add_comment(7, f"chatter {index}")
    old = fake.add_comment(7, marked("old report"))
    posted = post_report(client(fake), 7, "new report")
    assert posted.action == "updated" and posted.comment.id == old["id"]
    pages = [query["page"] for method, _, query in fake.requests if method == "GET"]
    assert pages == ["1", "2", "3"]
    assert {query["per_page"] for method, _, query in fake.requests if method == "GET"} == {"100"}
    assert len(fake.comments[7]) == 231


def test_a_comment_that_merely_quotes_the_report_is_not_edited() -> None:
    fake = FakeGitHub()
    fake.add_comment(7, f"> {MARKER}\n> the gate failed, why?")
    assert post_report(client(fake), 7, "report").action == "created"


def test_a_report_over_githubs_limit_is_refused_before_any_request() -> None:
    fake = FakeGitHub()
    with pytest.raises(ConfigError, match="GitHub takes 65536"):
        post_report(client(fake), 7, "x" * 65_536)
    assert fake.requests == []


def test_a_refused_token_names_the_status_and_request() -> None:
    fake = FakeGitHub()
    wrong = GitHub(fake.repository, "wrong", transport=fake.transport())
    with pytest.raises(GitHubError, match=r"401 to GET /repos/acme/shop/issues/7/comments"):
        post_report(wrong, 7, "report")


def test_the_number_comes_from_the_pull_request_event(tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"number": 3, "pull_request": {"number": 12}}))
    assert pr_number(str(event)) == 12
    event.write_text(json.dumps({"push": {}}))
    with pytest.raises(ConfigError, match="not a pull_request event"):
        pr_number(str(event))
    with pytest.raises(MissingInputError, match="does not exist"):
        pr_number(str(tmp_path / "none.json"))
    with pytest.raises(ConfigError, match="--pr"):
        pr_number(None)


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    command = [sys.executable, "-m", "greenlight", "pr-comment", *args]
    return subprocess.run(
        command, capture_output=True, text=True, env={**clean, **env}, check=False, timeout=60
    )


def test_the_command_posts_through_github_api_url_twice_one_comment(tmp_path: Path) -> None:
    fake = FakeGitHub()
    report, event = tmp_path / "pr_comment.md", tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 5}}))
    with fake.serve() as url:
        env = {"GITHUB_API_URL": url, "GITHUB_REPOSITORY": "acme/shop", "GITHUB_TOKEN": "t0ken",
               "GITHUB_EVENT_PATH": str(event)}  # fmt: skip
        for text in ("# gate passed", "# gate FAILED"):
            report.write_text(text)
            done = run_cli("--body", str(report), **env)
            assert done.returncode == 0, done.stderr
    assert "updated the report comment on pull request #5" in done.stdout
    assert [item["body"] for item in fake.comments[5]] == [f"{MARKER}\n# gate FAILED\n"]


def test_the_command_without_a_report_or_token_says_what_is_missing(tmp_path: Path) -> None:
    done = run_cli("--body", str(tmp_path / "none.md"), "--pr", "5")
    assert done.returncode == 2 and "run `greenlight report`" in done.stderr
    (tmp_path / "r.md").write_text("report")
    done = run_cli("--body", str(tmp_path / "r.md"), "--pr", "5", GITHUB_REPOSITORY="acme/shop")
    assert done.returncode == 2 and "GITHUB_TOKEN" in done.stderr
