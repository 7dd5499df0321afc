"""The deploy leg's clients: steady keep-alive POST /predict against the docker target's HAProxy
on 127.0.0.1 while a workflow rolls out or rolls back, bounded in requests and in time (it stops
by itself), every answer counted. Requests before the proxy first answered are not counted (no
deployment is live yet); every one after that must succeed. Standard library only: the harness
runs in .tools/rehearsal, apart from .venv."""

from __future__ import annotations

import http.client
import json
import threading
import time
from dataclasses import dataclass, field

# One Adult record, every column of schema.yaml: what a client of the service sends.
RECORD = {
    "age": 39,
    "workclass": "State-gov",
    "fnlwgt": 77516,
    "education": "Bachelors",
    "education_num": 13,
    "marital_status": "Never-married",
    "occupation": "Adm-clerical",
    "relationship": "Not-in-family",
    "race": "White",
    "sex": "Male",
    "capital_gain": 2174,
    "capital_loss": 0,
    "hours_per_week": 40,
    "native_country": "United-States",
}


@dataclass
class Tally:
    ok: int = 0
    failed: int = 0
    waiting: int = 0  # sent before the proxy first answered 200: nothing was live yet
    first_ok: float = 0.0
    last_ok: float = 0.0
    failures: list[str] = field(default_factory=list)  # the first few, for the report

    def line(self) -> str:
        span = f"{self.last_ok - self.first_ok:.0f} s" if self.ok else "no answer"
        shown = f" (first: {'; '.join(self.failures[:3])})" if self.failures else ""
        counted = f"{self.ok + self.failed} requests over {span}"
        return f"{counted}: {self.ok} ok, {self.failed} failed{shown}"


class ProxyLoad:
    """`clients` keep-alive connections paced to `rate` requests/s in all, at most `max_requests`
    and `max_seconds`; stopped by `stop()` (the workflow run ended) or by its bounds."""

    def __init__(
        self, port: int, rate: float = 8.0, clients: int = 2, max_seconds: float = 1800.0
    ) -> None:
        self.port, self.period = port, clients / rate
        self.max_requests = int(rate * max_seconds)
        self.deadline = time.monotonic() + max_seconds
        self.body = json.dumps({"records": [RECORD]}).encode()
        self.tally, self.lock, self.sent = Tally(), threading.Lock(), 0
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._client, daemon=True) for _ in range(clients)]

    def __enter__(self) -> ProxyLoad:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> Tally:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=30)
        return self.tally

    def _more(self) -> bool:
        with self.lock:
            if self.stopping.is_set() or time.monotonic() > self.deadline:
                return False
            self.sent += 1
            return self.sent <= self.max_requests

    def _client(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        next_at = time.monotonic()
        while self._more():
            if not self._one(connection):
                connection.close()  # a fresh connection after a failure, as a client would
            next_at += self.period
            time.sleep(max(0.0, next_at - time.monotonic()))
        connection.close()

    def _one(self, connection: http.client.HTTPConnection) -> bool:
        headers = {"Content-Type": "application/json"}
        try:
            connection.request("POST", "/predict", body=self.body, headers=headers)
            answer = connection.getresponse()
            answer.read()
        except (OSError, http.client.HTTPException) as error:
            return self._count(None, f"{type(error).__name__}: {error}")
        return self._count(answer.status, f"HTTP {answer.status}")

    def _count(self, status: int | None, what: str) -> bool:
        with self.lock:
            tally = self.tally
            if status == 200:
                tally.ok += 1
                tally.first_ok = tally.first_ok or time.time()
                tally.last_ok = time.time()
            elif not tally.ok:  # refused, or 503 from a proxy with no color live yet
                tally.waiting += 1
            else:
                tally.failed += 1
                tally.failures.append(f"{time.strftime('%H:%M:%S')} {what}")
        return status == 200
