"""An ASGI middleware in front of POST /predict: only JSON, only a declared and bounded body.
BentoML would otherwise pick a decoder from the content type (multipart, form) and read any body
whole; these requests get a 4xx before that."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

JSON = "application/json"


def request_problem(headers: dict[str, str], max_body_bytes: int) -> tuple[int, str] | None:
    """(status, message) when the request must not reach the model, else None."""
    media_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != JSON:
        shown = media_type or "none"
        return 415, f"content-type must be {JSON} (got {shown})"
    length = headers.get("content-length")
    if length is None:
        return 411, "content-length is required"
    if not length.isdigit():
        return 400, f"content-length {length!r} is not a byte count"
    if int(length) > max_body_bytes:
        return 413, f"body of {length} bytes exceeds the limit of {max_body_bytes} bytes"
    return None


class RequestGuard:
    def __init__(self, app: App, path: str, max_body_bytes: int) -> None:
        self.app = app
        self.path = path
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == self.path:
            headers = {
                key.decode("latin-1"): value.decode("latin-1") for key, value in scope["headers"]
            }
            problem = request_problem(headers, self.max_body_bytes)
            if problem is not None:
                await _reply(send, *problem)
                return
        await self.app(scope, receive, send)


async def _reply(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    headers = [(b"content-type", JSON.encode()), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
