"""The one GitHub REST client of the project, over httpx: the drift issue (`greenlight drift-issue`)
and the pull request's sticky comment (`greenlight pr-comment`) both talk to GitHub through it.

In a workflow it is configured from the environment Actions sets: `GITHUB_API_URL` (so GitHub
Enterprise Server and the rehearsal's local stand-in work unchanged), `GITHUB_REPOSITORY`
(owner/name) and `GITHUB_TOKEN` (passed by the step: `issues: write` for the drift issue,
`pull-requests: write` for the comment, nothing else)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from greenlight.errors import ConfigError, InfrastructureError

API_VERSION = "2022-11-28"
DEFAULT_API_URL = "https://api.github.com"
TIMEOUT_S = 30.0
PAGE_SIZE = 100  # GitHub's largest page
MAX_PAGES = 100  # 10,000 comments: far past any pull request; stops a server that never ends


class GitHubError(InfrastructureError, RuntimeError):
    """The GitHub REST API refused a request or could not be reached; the message has the status
    and GitHub's reason. A missing token or repository name is a ConfigError."""


@dataclass(frozen=True)
class Issue:
    number: int
    url: str


@dataclass(frozen=True)
class Comment:
    id: int
    body: str
    url: str


class GitHub:
    """The calls greenlight needs, relative to /repos/{owner}/{repo}."""

    def __init__(
        self,
        repository: str,
        token: str,
        api_url: str = DEFAULT_API_URL,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if repository.count("/") != 1 or not all(repository.split("/")):
            raise ConfigError(
                f"need the repository as owner/name (GITHUB_REPOSITORY), not {repository!r}"
            )
        if not token:
            raise ConfigError(
                "no token: set GITHUB_TOKEN to a token allowed to write issues/comments"
            )
        self._http = httpx.Client(
            base_url=f"{api_url.rstrip('/')}/repos/{repository}",
            headers=_headers(token),
            timeout=TIMEOUT_S,
            transport=transport,
        )

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, transport: httpx.BaseTransport | None = None
    ) -> GitHub:
        """GITHUB_REPOSITORY, GITHUB_TOKEN and GITHUB_API_URL (default api.github.com)."""
        env = os.environ if env is None else env
        api_url = env.get("GITHUB_API_URL") or DEFAULT_API_URL
        return cls(
            env.get("GITHUB_REPOSITORY", ""), env.get("GITHUB_TOKEN", ""), api_url, transport
        )

    # issues (the drift issue)
    def open_issues(self, label: str) -> list[Issue]:
        """Open issues with the label; the issues endpoint lists pull requests too: skip them."""
        found = self._pages("/issues", {"state": "open", "labels": label})
        return [_issue(item) for item in found if "pull_request" not in item]

    def ensure_label(self, name: str, color: str, description: str) -> None:
        response = self._send("GET", f"/labels/{quote(name, safe='')}")
        if response.status_code == httpx.codes.NOT_FOUND:
            payload = {"name": name, "color": color, "description": description}
            self._request("POST", "/labels", json=payload)
        else:
            _check(response)

    def create_issue(self, title: str, body: str, labels: list[str]) -> Issue:
        payload = {"title": title, "body": body, "labels": labels}
        return _issue(self._request("POST", "/issues", json=payload))

    def update_issue(self, number: int, body: str) -> None:
        self._request("PATCH", f"/issues/{number}", json={"body": body})

    # comments (on an issue or a pull request: GitHub's issue comments)
    def comment(self, number: int, body: str) -> None:
        self.create_comment(number, body)

    def create_comment(self, number: int, body: str) -> Comment:
        return _comment(self._request("POST", f"/issues/{number}/comments", json={"body": body}))

    def comments(self, number: int) -> list[Comment]:
        return [_comment(item) for item in self._pages(f"/issues/{number}/comments", {})]

    def edit_comment(self, comment_id: int, body: str) -> Comment:
        path = f"/issues/comments/{comment_id}"
        return _comment(self._request("PATCH", path, json={"body": body}))

    def _pages(self, path: str, params: dict[str, Any]) -> list[Any]:
        """Every item of a list endpoint, page by page, until a page comes back short."""
        items: list[Any] = []
        for page in range(1, MAX_PAGES + 1):
            batch = self._request(
                "GET", path, params={**params, "per_page": PAGE_SIZE, "page": page}
            )
            items.extend(batch)
            if len(batch) < PAGE_SIZE:
                return items
        raise GitHubError(f"GET {path}: more than {MAX_PAGES} pages of {PAGE_SIZE}")

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        return _check(self._send(method, path, **kwargs)).json()

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._http.request(method, path, **kwargs)
        except httpx.TransportError as error:
            raise GitHubError(f"{method} {path}: GitHub not reachable: {error}") from error


def _headers(token: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {token}",
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": API_VERSION,
    }


def _check(response: httpx.Response) -> httpx.Response:
    if response.is_success:
        return response
    request = response.request
    raise GitHubError(
        f"GitHub answered {response.status_code} to {request.method} {request.url.path}: "
        f"{_reason(response)}"
    )


def _reason(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:  # not JSON: one of GitHub's HTML error pages
        return response.text[:200]
    return str(body.get("message", body)) if isinstance(body, dict) else str(body)[:200]


def _issue(item: dict[str, Any]) -> Issue:
    return Issue(number=int(item["number"]), url=str(item["html_url"]))


def _comment(item: dict[str, Any]) -> Comment:
    return Comment(
        id=int(item["id"]), body=str(item.get("body") or ""), url=str(item.get("html_url", ""))
    )
