"""The GitHub REST API stand-in of the rehearsal, driven by greenlight's own GitHub client: what
the workflows' comment and drift-issue steps need, as GitHub answers it."""

from __future__ import annotations

import httpx
import pytest

from greenlight.github import GitHub, GitHubError
from tools.rehearsal.github_api import GitHubStandIn

REPO = "owner/repo"
TOKEN = "t0ken"  # noqa: S105 (the stand-in's own)


@pytest.fixture
def api():
    with GitHubStandIn(REPO, TOKEN) as server:
        yield server


def test_it_listens_on_loopback_only(api: GitHubStandIn) -> None:
    assert api.server.server_address[0] == "127.0.0.1"
    assert api.url.startswith("http://127.0.0.1:")


def test_comments_are_created_listed_across_pages_and_edited(api: GitHubStandIn) -> None:
    number = api.add_pull_request("a change", "feature")
    client = GitHub(REPO, TOKEN, api.url)
    for index in range(130):  # more than GitHub's largest page (100)
        client.create_comment(number, f"comment {index}")
    listed = client.comments(number)
    assert [comment.body for comment in listed] == [f"comment {i}" for i in range(130)]
    pages = [call.query.get("page") for call in api.calls("GET", r"/issues/\d+/comments$")]
    assert pages == ["1", "2"]
    edited = client.edit_comment(listed[5].id, "edited")
    assert edited.body == "edited"
    assert api.comments_on(number)[5]["body"] == "edited"
    assert len(api.comments_on(number)) == 130


def test_issues_by_label_skip_pull_requests_and_labels_are_created_once(
    api: GitHubStandIn,
) -> None:
    api.add_pull_request("not an issue", "feature")
    client = GitHub(REPO, TOKEN, api.url)
    client.ensure_label("drift", "d93f0b", "production traffic drifted")
    client.ensure_label("drift", "d93f0b", "production traffic drifted")
    assert len(api.calls("POST", r"/labels$")) == 1
    issue = client.create_issue("Drift", "body", ["drift"])
    client.update_issue(issue.number, "new body")
    client.comment(issue.number, "again")
    assert [found.number for found in client.open_issues("drift")] == [issue.number]
    assert api.issues_labelled("drift")[0]["body"] == "new body"
    assert [c["body"] for c in api.comments_on(issue.number)] == ["again"]
    assert client.open_issues("other") == []


def test_a_wrong_token_is_refused_and_recorded(api: GitHubStandIn) -> None:
    with pytest.raises(GitHubError, match="401"):
        GitHub(REPO, "wrong", api.url).open_issues("drift")
    assert [call.status for call in api.calls()] == [401]


def test_unknown_routes_and_bad_bodies_answer_like_github(api: GitHubStandIn) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=api.url, headers=headers) as http:
        assert http.get("/repos/other/repo/issues").status_code == 404
        assert http.post(f"/repos/{REPO}/issues/99/comments", json={"body": "x"}).status_code == 404
        assert http.post(f"/repos/{REPO}/issues", json={"body": "no title"}).status_code == 422
        assert http.get(f"/repos/{REPO}/labels/none").status_code == 404
        recorded = http.get("/_rehearsal/calls").json()
    assert [call["status"] for call in recorded] == [404, 404, 422, 404]
