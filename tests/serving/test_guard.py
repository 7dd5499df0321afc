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


def _call(
    method: str, path: str, headers: dict[str, str], messages: list[dict[str, Any]] | None = None
) -> tuple[list[dict[str, Any]], bool, list[bytes], int]:
    """What the guard sent, whether the app was reached, the bodies the app read, aborts."""
    reached, bodies, aborts = [], [], []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        reached.append(scope["path"])
        if scope["method"] == "POST":
            bodies.append((await receive())["body"])

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    incoming = list(messages or [{"type": "http.request", "body": b""}])

    async def receive() -> dict[str, Any]:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "headers": [(key.encode(), value.encode()) for key, value in headers.items()],
    }
    guard = RequestGuard(app, "/predict", max_body_bytes=1000, on_abort=lambda: aborts.append(1))
    asyncio.run(guard(scope, receive, send))
    return sent, bool(reached), bodies, len(aborts)


def test_the_middleware_answers_bad_predict_requests_itself() -> None:
    sent, reached, _, _ = _call(
        "POST", "/predict", {"content-type": "text/csv", "content-length": "3"}
    )
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
    sent, reached, _, aborts = _call(method, path, headers)
    assert reached
    assert sent == []
    assert aborts == 0


def test_a_body_in_chunks_reaches_the_app_whole() -> None:
    chunks = [
        {"type": "http.request", "body": b'{"records":', "more_body": True},
        {"type": "http.request", "body": b" []}", "more_body": False},
    ]
    sent, reached, bodies, aborts = _call("POST", "/predict", JSON_HEADERS, chunks)
    assert reached and sent == [] and aborts == 0
    assert bodies == [b'{"records": []}']


def test_a_client_that_hangs_up_mid_body_is_counted_not_answered() -> None:
    chunks = [
        {"type": "http.request", "body": b'{"records":', "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent, reached, _, aborts = _call("POST", "/predict", JSON_HEADERS, chunks)
    assert not reached  # neither the model nor BentoML's error handler sees it
    assert sent == []  # nobody is left to read an answer: no status, so no 5xx anywhere
    assert aborts == 1
