"""A small GitHub REST API stand-in for the rehearsal: the calls the workflows make (issue comments,
issues, labels), on 127.0.0.1, threaded, every call recorded for the scenario to assert on.

State is in memory: issues and pull requests share one number space as on GitHub; a pull request
is created by the harness with `add_pull_request`. Authorization must be `Bearer <token>` or
`token <token>` with the token it was started with, else 401 (as GitHub answers)."""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

MAX_PER_PAGE = 100


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    status: int
    time: float  # time.time() when it was answered


@dataclass
class State:
    repository: str
    token: str
    base_url: str = ""
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)
    comments: dict[int, dict[str, Any]] = field(default_factory=dict)
    labels: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    next_comment: int = 1000
    lock: threading.Lock = field(default_factory=threading.Lock)

    def html(self, kind: str, number: int) -> str:
        return f"https://github.com/{self.repository}/{kind}/{number}"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Api:
    """The routes: (method, regex over the path after /repos/{owner}/{repo}) -> handler."""

    def __init__(self, state: State) -> None:
        self.state = state
        self.routes = [
            ("GET", r"/issues", self.list_issues),
            ("POST", r"/issues", self.create_issue),
            ("GET", r"/issues/(\d+)", self.get_issue),
            ("PATCH", r"/issues/(\d+)", self.update_issue),
            ("GET", r"/issues/(\d+)/comments", self.list_comments),
            ("POST", r"/issues/(\d+)/comments", self.create_comment),
            ("GET", r"/issues/comments/(\d+)", self.get_comment),
            ("PATCH", r"/issues/comments/(\d+)", self.update_comment),
            ("GET", r"/labels/([^/]+)", self.get_label),
            ("POST", r"/labels", self.create_label),
        ]

    def dispatch(self, method: str, path: str, query: dict[str, str], body: Any):
        prefix = f"/repos/{self.state.repository}"
        if not path.startswith(prefix + "/"):
            return HTTPStatus.NOT_FOUND, {"message": "Not Found"}, {}
        rest = path[len(prefix) :]
        for route_method, pattern, handler in self.routes:
            match = re.fullmatch(pattern, rest)
            if match and route_method == method:
                with self.state.lock:
                    return handler(query, body, *match.groups())
        return HTTPStatus.NOT_FOUND, {"message": "Not Found"}, {}

    # issues (and pull requests, which are issues with a pull_request key)
    def list_issues(self, query, _body):
        wanted = set(filter(None, query.get("labels", "").split(",")))
        state = query.get("state", "open")
        found = [
            issue
            for issue in sorted(self.state.issues.values(), key=lambda item: -item["number"])
            if (state == "all" or issue["state"] == state)
            and wanted <= {label["name"] for label in issue["labels"]}
        ]
        return self._page(found, query, "issues")

    def create_issue(self, _query, body):
        if not isinstance(body, dict) or not body.get("title"):
            return HTTPStatus.UNPROCESSABLE_ENTITY, {"message": "title is missing"}, {}
        issue = self._new_issue(body["title"], body.get("body", ""), body.get("labels", []))
        return HTTPStatus.CREATED, issue, {}

    def get_issue(self, _query, _body, number):
        issue = self.state.issues.get(int(number))
        if issue is None:
            return HTTPStatus.NOT_FOUND, {"message": "Not Found"}, {}
        return HTTPStatus.OK, issue, {}

    def update_issue(self, _query, body, number):
        issue = self.state.issues.get(int(number))
        if issue is None:
            return HTTPStatus.NOT_FOUND, {"message": "Not Found"}, {}
        for key in ("title", "body", "state"):
            if key in body:
                issue[key] = body[key]
        if "labels" in body:
            issue["labels"] = [self._label(name) for name in body["labels"]]
        issue["updated_at"] = _now()
        return HTTPStatus.OK, issue, {}

    # comments
    def list_comments(self, query, _body, number):
        if int(number) not in self.state.issues:
            return HTTPStatus.NOT_FOUND, {"message": "Not Found"}, {}
        found = [c for c in self.state.comments.values() if c["issue_number"] == int(number)]
        return self._page(sorted(found, key=lambda c: c["id"]), query, f"issues/{number}/comments")

    def create_comment(self, _query, body, number):
        issue = self.state.issues.get(int(number))
        if issue is None:
            return HTTPStatus.NOT_FOUND, {"message": "Not Found"}, {}
        if not isinstance(body, dict) or not body.get("body"):
            return HTTPStatus.UNPROCESSABLE_ENTITY, {"message": "body is missing"}, {}
        self.state.next_comment += 1
        comment_id = self.state.next_comment
        comment = {
            "id": comment_id,
            "issue_number": int(number),
            "body": body["body"],
            "user": {"login": "github-actions[bot]", "type": "Bot"},
            "html_url": f"{issue['html_url']}#issuecomment-{comment_id}",
            "created_at": _now(),
            "updated_at": _now(),
        }
        self.state.comments[comment_id] = comment
        issue["comments"] += 1
        return HTTPStatus.CREATED, comment, {}

    def get_comment(self, _query, _body, comment_id):
        comment = self.state.comments.get(int(comment_id))
        if comment is None:
            return HTTPStatus.NOT_FOUND, {"message": "Not Found"}, {}
        return HTTPStatus.OK, comment, {}

    def update_comment(self, _query, body, comment_id):
        comment = self.state.comments.get(int(comment_id))
        if comment is None:
            return HTTPStatus.NOT_FOUND, {"message": "Not Found"}, {}
        if not isinstance(body, dict) or not body.get("body"):
            return HTTPStatus.UNPROCESSABLE_ENTITY, {"message": "body is missing"}, {}
        comment["body"] = body["body"]
        comment["updated_at"] = _now()
        return HTTPStatus.OK, comment, {}

    # labels
    def get_label(self, _query, _body, name):
        label = self.state.labels.get(unquote(name))
        if label is None:
            return HTTPStatus.NOT_FOUND, {"message": "Not Found"}, {}
        return HTTPStatus.OK, label, {}

    def create_label(self, _query, body):
        name = body.get("name") if isinstance(body, dict) else None
        if not name:
            return HTTPStatus.UNPROCESSABLE_ENTITY, {"message": "name is missing"}, {}
        if name in self.state.labels:
            return HTTPStatus.UNPROCESSABLE_ENTITY, {"message": "Validation Failed"}, {}
        self.state.labels[name] = {
            "name": name,
            "color": body.get("color", "ededed"),
            "description": body.get("description", ""),
        }
        return HTTPStatus.CREATED, self.state.labels[name], {}

    # helpers
    def _label(self, name: str) -> dict[str, Any]:
        return self.state.labels.setdefault(name, {"name": name, "color": "ededed"})

    def _new_issue(self, title: str, body: str, labels: list[str], **extra: Any) -> dict:
        number = max(self.state.issues, default=0) + 1
        kind = "pull" if "pull_request" in extra else "issues"
        issue = {
            "number": number,
            "title": title,
            "body": body,
            "state": "open",
            "labels": [self._label(name) for name in labels],
            "comments": 0,
            "html_url": self.state.html(kind, number),
            "created_at": _now(),
            "updated_at": _now(),
            **extra,
        }
        self.state.issues[number] = issue
        return issue

    def _page(self, items: list, query: dict[str, str], path: str):
        per_page = min(int(query.get("per_page", 30)), MAX_PER_PAGE)
        page = max(int(query.get("page", 1)), 1)
        chunk = items[(page - 1) * per_page : page * per_page]
        headers = {}
        if page * per_page < len(items):
            base = f"{self.state.base_url}/repos/{self.state.repository}/{path}"
            rest = "".join(f"&{k}={v}" for k, v in query.items() if k not in ("page", "per_page"))
            headers["Link"] = f'<{base}?per_page={per_page}&page={page + 1}{rest}>; rel="next"'
        return HTTPStatus.OK, chunk, headers


class _Handler(BaseHTTPRequestHandler):
    api: Api  # set on the subclass made by `serve`

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: every call is recorded in the state instead."""

    def _answer(self) -> None:
        parts = urlsplit(self.path)
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        status, payload, headers = self._route(parts.path, query, body)
        call = Call(self.command, parts.path, query, body, int(status), time.time())
        with self.api.state.lock:
            self.api.state.calls.append(call)
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _route(self, path: str, query: dict[str, str], body: Any):
        if path == "/_rehearsal/calls" and self.command == "GET":
            with self.api.state.lock:
                return HTTPStatus.OK, [call.__dict__ for call in self.api.state.calls], {}
        auth = self.headers.get("Authorization", "")
        if auth not in (f"Bearer {self.api.state.token}", f"token {self.api.state.token}"):
            return HTTPStatus.UNAUTHORIZED, {"message": "Bad credentials"}, {}
        return self.api.dispatch(self.command, path, query, body)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _answer


class GitHubStandIn:
    """The server in a thread of this process: `with GitHubStandIn(repo, token) as api: api.url`."""

    def __init__(self, repository: str, token: str, port: int = 0) -> None:
        self.state = State(repository=repository, token=token)
        self.api = Api(self.state)
        handler = type("Handler", (_Handler,), {"api": self.api})
        self.server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.state.base_url = self.url
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> GitHubStandIn:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=10)

    def add_pull_request(self, title: str, head: str, base: str = "main") -> int:
        with self.state.lock:
            pull = {"url": f"{self.url}/repos/{self.state.repository}/pulls/{{n}}"}
            issue = self.api._new_issue(title, "", [], pull_request=pull)
            issue["pull_request"]["url"] = pull["url"].format(n=issue["number"])
            issue["head"], issue["base"] = {"ref": head}, {"ref": base}
            return issue["number"]

    def calls(self, method: str | None = None, pattern: str = "") -> list[Call]:
        with self.state.lock:
            return [
                call
                for call in self.state.calls
                if (method is None or call.method == method) and re.search(pattern, call.path)
            ]

    def comments_on(self, number: int) -> list[dict[str, Any]]:
        with self.state.lock:
            found = [c for c in self.state.comments.values() if c["issue_number"] == number]
            return sorted(found, key=lambda c: c["id"])

    def issues_labelled(self, label: str) -> list[dict[str, Any]]:
        with self.state.lock:
            return [
                issue
                for issue in self.state.issues.values()
                if "pull_request" not in issue
                and label in {item["name"] for item in issue["labels"]}
            ]
