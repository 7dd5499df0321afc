"""An in-process fake of the GitHub REST endpoints greenlight uses: issue comments (paginated,
created, edited), issues (listed open by label, created, edited) and labels. One state, two ways
in: `transport()` for an httpx client, `serve()` for a real HTTP server on 127.0.0.1 that a
subprocess reaches through GITHUB_API_URL."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from loopback import serving

COMMENTS = re.compile(r"^/repos/(?P<repo>[^/]+/[^/]+)/issues/(?P<number>\d+)/comments$")
COMMENT = re.compile(r"^/repos/(?P<repo>[^/]+/[^/]+)/issues/comments/(?P<id>\d+)$")
ISSUES = re.compile(r"^/repos/(?P<repo>[^/]+/[^/]+)/issues$")
ISSUE = re.compile(r"^/repos/(?P<repo>[^/]+/[^/]+)/issues/(?P<number>\d+)$")
LABELS = re.compile(r"^/repos/(?P<repo>[^/]+/[^/]+)/labels(/(?P<name>[^/]+))?$")


class FakeGitHub:
    def __init__(self, repository: str = "acme/shop", token: str = "t0ken") -> None:  # noqa: S107
        self.repository, self.token = repository, token
        self.comments: dict[int, list[dict[str, Any]]] = {}
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.issues: dict[int, dict[str, Any]] = {}  # number -> issue, as GitHub answers it
        self.labels: dict[str, dict[str, Any]] = {}
        self._next_id = 1000

    def add_issue(self, title: str, body: str, labels: list[str]) -> dict[str, Any]:
        number = max([*self.issues, *self.comments], default=0) + 1
        url = f"https://github.com/{self.repository}/issues/{number}"
        names = [{"name": name} for name in labels]
        item = {"number": number, "title": title, "body": body, "labels": names, "state": "open"}
        self.issues[number] = item | {"html_url": url}
        return self.issues[number]

    def open_issues_labelled(self, label: str) -> list[dict[str, Any]]:
        return [
            issue
            for issue in self.issues.values()
            if issue["state"] == "open" and label in [name["name"] for name in issue["labels"]]
        ]

    def add_comment(self, number: int, body: str, login: str = "someone") -> dict[str, Any]:
        self._next_id += 1
        url = f"https://github.com/{self.repository}/pull/{number}#c{self._next_id}"
        item = {"id": self._next_id, "body": body, "user": {"login": login}, "html_url": url}
        self.comments.setdefault(number, []).append(item)
        return item

    def handle(
        self, method: str, url: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, Any]:
        split = urlsplit(url)
        query = {key: values[0] for key, values in parse_qs(split.query).items()}
        self.requests.append((method, split.path, query))
        if headers.get("authorization") != f"Bearer {self.token}":
            return 401, {"message": "Bad credentials"}
        payload = json.loads(body) if body else {}
        return self._route(method, split.path, query, payload)

    def _route(
        self, method: str, path: str, query: dict[str, str], payload: Any
    ) -> tuple[int, Any]:
        answer = self._issue_route(method, path, query, payload)
        if answer is not None:
            return answer
        listed, single = COMMENTS.match(path), COMMENT.match(path)
        if listed and listed["repo"] == self.repository:
            number = int(listed["number"])
            if method == "GET":
                return 200, self._page(self.comments.get(number, []), query)
            if method == "POST":
                return 201, self.add_comment(number, payload["body"], "github-actions[bot]")
        if single and single["repo"] == self.repository and method == "PATCH":
            for item in (c for thread in self.comments.values() for c in thread):
                if item["id"] == int(single["id"]):
                    item["body"] = payload["body"]
                    return 200, item
        return 404, {"message": "Not Found"}

    def _issue_route(
        self, method: str, path: str, query: dict[str, str], payload: Any
    ) -> tuple[int, Any] | None:
        """Issues (listed by state and label, created, edited) and labels (read, created)."""
        issues, issue, labels = ISSUES.match(path), ISSUE.match(path), LABELS.match(path)
        repo = next((m["repo"] for m in (issues, issue, labels) if m), None)
        if repo != self.repository:
            return None
        if issues and method == "GET":
            wanted = self.open_issues_labelled(query["labels"]) if "labels" in query else []
            return 200, self._page(wanted, query)
        if issues and method == "POST":
            return 201, self.add_issue(payload["title"], payload["body"], payload["labels"])
        if issue and method == "PATCH" and int(issue["number"]) in self.issues:
            self.issues[int(issue["number"])].update(payload)
            return 200, self.issues[int(issue["number"])]
        return self._label_route(method, labels, payload) if labels else None

    def _label_route(self, method: str, labels: re.Match, payload: Any) -> tuple[int, Any] | None:
        if method == "GET" and labels["name"] is not None:
            found = self.labels.get(labels["name"])
            return (200, found) if found else (404, {"message": "Not Found"})
        if method == "POST" and labels["name"] is None:
            self.labels[payload["name"]] = payload
            return 201, payload
        return None

    @staticmethod
    def _page(items: list[Any], query: dict[str, str]) -> list[Any]:
        size, page = int(query.get("per_page", 30)), int(query.get("page", 1))
        return items[(page - 1) * size : page * size]

    def transport(self) -> httpx.MockTransport:
        def answer(request: httpx.Request) -> httpx.Response:
            headers = {key.lower(): value for key, value in request.headers.items()}
            url, content = str(request.url), request.content
            status, payload = self.handle(request.method, url, headers, content)
            return httpx.Response(status, json=payload)

        return httpx.MockTransport(answer)

    @contextmanager
    def serve(self) -> Iterator[str]:
        """A real server on 127.0.0.1 (a free port); yields its URL for GITHUB_API_URL."""
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                headers = {key.lower(): value for key, value in self.headers.items()}
                content = self.rfile.read(length)
                status, payload = fake.handle(self.command, self.path, headers, content)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = _any

            def log_message(self, *args: object) -> None:
                pass

        with serving(Handler) as url:
            yield url
