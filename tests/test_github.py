"""The REST client against a mock transport: the requests it sends and how it reads answers."""

from __future__ import annotations

import json

import httpx
import pytest

from greenlight.errors import ConfigError
from greenlight.github import GitHub, GitHubError


class FakeGitHub:
    """Answers the few endpoints the client uses and records each request."""

    def __init__(self, label_exists: bool = True, fail_with: int | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.label_exists = label_exists
        self.fail_with = fail_with

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.fail_with:
            return httpx.Response(self.fail_with, json={"message": "Resource not accessible"})
        route = (request.method, request.url.path)
        if route == ("GET", "/repos/acme/shop/issues"):
            return httpx.Response(200, json=[issue(7), {**issue(8), "pull_request": {}}])
        if route == ("GET", "/repos/acme/shop/labels/drift"):
            return httpx.Response(200 if self.label_exists else 404, json={"name": "drift"})
        if request.method == "POST" and request.url.path.endswith("/issues"):
            return httpx.Response(201, json=issue(9))
        if request.method == "POST" and request.url.path.endswith("/comments"):
            return httpx.Response(201, json={"id": 1, "body": "", "html_url": ""})
        return httpx.Response(200, json={})

    def client(self) -> GitHub:
        return GitHub("acme/shop", "t0ken", transport=httpx.MockTransport(self))


def issue(number: int) -> dict:
    return {"number": number, "html_url": f"https://github.com/acme/shop/issues/{number}"}


def test_open_issues_are_listed_by_label_without_pull_requests():
    github = FakeGitHub()
    found = github.client().open_issues("drift")
    assert [item.number for item in found] == [7]
    request = github.requests[0]
    assert request.url.params["labels"] == "drift" and request.url.params["state"] == "open"
    assert request.headers["Authorization"] == "Bearer t0ken"
    assert request.headers["X-GitHub-Api-Version"] == "2022-11-28"


def test_the_label_is_created_only_when_missing():
    present, missing = FakeGitHub(label_exists=True), FakeGitHub(label_exists=False)
    present.client().ensure_label("drift", "d93f0b", "drifted")
    missing.client().ensure_label("drift", "d93f0b", "drifted")
    assert [r.method for r in present.requests] == ["GET"]
    assert [r.method for r in missing.requests] == ["GET", "POST"]
    assert json.loads(missing.requests[1].content) == {
        "name": "drift",
        "color": "d93f0b",
        "description": "drifted",
    }


def test_create_update_and_comment_send_what_github_expects():
    github = FakeGitHub()
    client = github.client()
    created = client.create_issue("Drift", "body", ["drift"])
    client.update_issue(7, "new body")
    client.comment(7, "again")
    assert created.number == 9 and created.url.endswith("/issues/9")
    sent = [(r.method, r.url.path, json.loads(r.content)) for r in github.requests]
    assert sent == [
        (
            "POST",
            "/repos/acme/shop/issues",
            {"title": "Drift", "body": "body", "labels": ["drift"]},
        ),
        ("PATCH", "/repos/acme/shop/issues/7", {"body": "new body"}),
        ("POST", "/repos/acme/shop/issues/7/comments", {"body": "again"}),
    ]


def test_a_refusal_names_the_status_the_request_and_githubs_reason():
    client = FakeGitHub(fail_with=403).client()
    with pytest.raises(GitHubError, match=r"403 to PATCH /repos/acme/shop/issues/7: Resource not"):
        client.update_issue(7, "body")


def test_a_missing_token_or_malformed_repository_is_refused_before_any_request():
    with pytest.raises(ConfigError, match="GITHUB_TOKEN"):
        GitHub("acme/shop", "")
    with pytest.raises(ConfigError, match="owner/name"):
        GitHub("acme", "t0ken")
    with pytest.raises(ConfigError, match="owner/name"):
        GitHub.from_env({"GITHUB_TOKEN": "t0ken"})


def test_the_api_url_and_repository_come_from_the_environment():
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json=[])

    env = {"GITHUB_API_URL": "http://127.0.0.1:9/api/v3/", "GITHUB_REPOSITORY": "acme/shop",
           "GITHUB_TOKEN": "t0ken"}  # fmt: skip
    GitHub.from_env(env, transport=httpx.MockTransport(answer)).open_issues("drift")
    assert seen[0].startswith("http://127.0.0.1:9/api/v3/repos/acme/shop/issues?")
