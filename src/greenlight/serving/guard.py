"""An ASGI middleware in front of POST /predict: only JSON, only a declared and bounded body, and
only a body that arrived whole. BentoML would otherwise pick a decoder from the content type
(multipart, form) and read any body whole; these requests get a 4xx before that.

A client that declares a Content-Length, sends less and hangs up (an abort) is not a server error:
BentoML's endpoint wrapper would turn the ClientDisconnect into a logged 500 with a traceback,
counted as a 5xx by /metrics and by the router (whose 5xx rate can roll a release back). The guard
reads the body first; on a disconnect it counts the abort and returns without a response (nobody
is left to read one), so the request reaches neither the model nor the 5xx counters."""

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


async def read_body(receive: Receive) -> bytes | None:
    """The whole request body, or None when the client disconnected before sending all of it."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    """A receive that hands the app the body already read, then defers to the connection."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replayed() -> Message:
        return pending.pop() if pending else await receive()

    return replayed


class RequestGuard:
    def __init__(
        self, app: App, path: str, max_body_bytes: int, on_abort: Callable[[], object]
    ) -> None:
        self.app = app
        self.path = path
        self.max_body_bytes = max_body_bytes
        self.on_abort = on_abort  # counts client aborts (greenlight_client_aborts_total)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == self.path:
            await self._guarded(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _guarded(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {key.decode("latin-1"): val.decode("latin-1") for key, val in scope["headers"]}
        problem = request_problem(headers, self.max_body_bytes)
        if problem is not None:
            await _reply(send, *problem)
            return
        body = await read_body(receive)
        if body is None:
            self.on_abort()
            return
        await self.app(scope, replay(body, receive), send)


async def _reply(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    headers = [(b"content-type", JSON.encode()), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
