"""Steady keep-alive load, as real clients send it: a few clients that reuse their connections,
paced to a total rate, bounded in requests AND time (it stops by itself), recording every answer.
The deploy tests and `make bench-deploy` drive rollouts with it."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class Answer:
    sent: float  # wall clock (time.time), comparable with the audit log's timestamps
    done: float
    status: int | None  # None: no HTTP answer at all (reset, refused, timeout)
    error: str | None
    version: str | None
    connection: int | None = None  # the client's local port: a new one means a new connection

    @property
    def ok(self) -> bool:
        return self.status == httpx.codes.OK


class SteadyLoad:
    def __init__(
        self,
        url: str,
        record: dict[str, Any],
        rate: float = 50.0,
        clients: int = 4,
        max_seconds: float = 180.0,
    ) -> None:
        self.url, self.body = url, {"records": [record]}
        self.period = clients / rate
        self.max_requests = int(rate * max_seconds)
        self.deadline = time.monotonic() + max_seconds
        self.answers: list[Answer] = []
        self.sent = 0
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._client, args=(n,)) for n in range(clients)]

    def __enter__(self) -> SteadyLoad:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> list[Answer]:
        self.stopping.set()
        for thread in self.threads:
            thread.join()
        return sorted(self.answers, key=lambda answer: answer.sent)

    def _more(self) -> bool:
        with self.lock:
            if self.stopping.is_set() or time.monotonic() > self.deadline:
                return False
            if self.sent >= self.max_requests:
                return False
            self.sent += 1
            return True

    def _client(self, index: int) -> None:
        next_at = time.monotonic() + index * self.period / len(self.threads)
        with httpx.Client(timeout=10.0) as client:  # keeps its connection alive between calls
            while self._more():
                self._one(client)
                next_at += self.period
                time.sleep(max(0.0, next_at - time.monotonic()))

    def _one(self, client: httpx.Client) -> None:
        sent = time.time()
        try:
            response = client.post(self.url, json=self.body)
            version = response.json().get("model_version") if response.is_success else None
            port = local_port(response)
            answer = Answer(sent, time.time(), response.status_code, None, version, port)
        except httpx.HTTPError as error:
            answer = Answer(sent, time.time(), None, f"{type(error).__name__}: {error}", None)
        with self.lock:
            self.answers.append(answer)


def local_port(response: httpx.Response) -> int | None:
    """The client side's port of the connection that carried `response`, while it is open."""
    stream = response.extensions.get("network_stream")
    connection = stream.get_extra_info("socket") if stream is not None else None
    try:
        return int(connection.getsockname()[1]) if connection is not None else None
    except OSError:
        return None  # the server closed it right after answering
