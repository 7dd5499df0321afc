"""Only declared, bounded JSON bodies reach the model."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from greenlight.serving.guard import RequestGuard, request_problem

JSON_HEADERS = {"content-type": "application/json", "content-length": "100"}


@pytest.mark.parametrize(
    ("headers", "status", "words"),
    [
        ({"content-length": "10"}, 415, "got none"),
        ({**JSON_HEADERS, "content-type": "text/plain"}, 415, "got text/plain"),
        ({**JSON_HEADERS, "content-type": "multipart/form-data; boundary=x"}, 415, "multipart"),
        ({"content-type": "application/json"}, 411, "content-length is required"),
        ({**JSON_HEADERS, "content-length": "-5"}, 400, "not a byte count"),
        ({**JSON_HEADERS, "content-length": "1001"}, 413, "exceeds the limit of 1000 bytes"),
    ],
)
def test_problems_are_named(headers: dict[str, str], status: int, words: str) -> None:
    problem = request_problem(headers, max_body_bytes=1000)
    assert problem is not None
    assert problem[0] == status
    assert words in problem[1]


@pytest.mark.parametrize("content_type", ["application/json", "Application/JSON; charset=utf-8"])
def test_json_within_the_limit_passes(content_type: str) -> None:
    headers = {"content-type": content_type, "content-length": "1000"}
    assert request_problem(headers, max_body_bytes=1000) is None


def _call(method: str, path: str, headers: dict[str, str]) -> tuple[list[dict[str, Any]], bool]:
    reached = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        reached.append(scope["path"])

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "headers": [(key.encode(), value.encode()) for key, value in headers.items()],
    }
    asyncio.run(RequestGuard(app, path="/predict", max_body_bytes=1000)(scope, receive, send))
    return sent, bool(reached)


def test_the_middleware_answers_bad_predict_requests_itself() -> None:
    sent, reached = _call("POST", "/predict", {"content-type": "text/csv", "content-length": "3"})
    assert not reached
    assert sent[0]["status"] == 415
    assert json.loads(sent[1]["body"]) == {
        "error": "content-type must be application/json (got text/csv)"
    }


@pytest.mark.parametrize(
    ("method", "path", "headers"),
    [
        ("POST", "/predict", JSON_HEADERS),
        ("GET", "/readyz", {}),
        ("POST", "/other", {"content-type": "text/plain"}),
    ],
)
def test_everything_else_passes_through(method: str, path: str, headers: dict[str, str]) -> None:
    sent, reached = _call(method, path, headers)
    assert reached
    assert sent == []
