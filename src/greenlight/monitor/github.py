"""A minimal GitHub REST client for the drift issue: the five calls `issue.IssueTracker` needs,
authenticated with the workflow's GITHUB_TOKEN (which needs `issues: write`, nothing else)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from greenlight.monitor.errors import GitHubError
from greenlight.monitor.issue import Issue

API_VERSION = "2022-11-28"
TIMEOUT_S = 30.0


class GitHubIssues:
    def __init__(
        self,
        repository: str,
        token: str,
        api_url: str = "https://api.github.com",
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if repository.count("/") != 1 or not token:
            raise GitHubError("need the repository as owner/name and a token (GITHUB_TOKEN)")
        headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
        }
        base = f"{api_url.rstrip('/')}/repos/{repository}"
        self._http = httpx.Client(
            base_url=base, headers=headers, timeout=TIMEOUT_S, transport=transport
        )

    def open_issues(self, label: str) -> list[Issue]:
        """Open issues with the label; the issues endpoint lists pull requests too: skip them."""
        found = self._request(
            "GET", "/issues", params={"state": "open", "labels": label, "per_page": 100}
        )
        return [_issue(item) for item in found if "pull_request" not in item]

    def ensure_label(self, name: str, color: str, description: str) -> None:
        response = self._http.get(f"/labels/{quote(name, safe='')}")
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

    def comment(self, number: int, body: str) -> None:
        self._request("POST", f"/issues/{number}/comments", json={"body": body})

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        return _check(self._http.request(method, path, **kwargs)).json()


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
