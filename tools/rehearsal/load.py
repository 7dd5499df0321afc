"""The deploy leg's clients: steady keep-alive POST /predict against the docker target's HAProxy
on 127.0.0.1 while a workflow rolls out or rolls back, by the deploy tests' own load generator
(`tools.harness.load.SteadyLoad`: bounded in requests and in time, every answer kept). Requests
before the proxy first answered are not counted (no deployment is live yet); every one after that
must succeed (`tally`)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from tools.harness.load import Answer, SteadyLoad

RATE, CLIENTS, MAX_SECONDS = 8.0, 2, 1800.0

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


def proxy_load(port: int) -> SteadyLoad:
    """Load on 127.0.0.1:`port`, started by `with` and stopped by `stop()` or its bounds."""
    url = f"http://127.0.0.1:{port}/predict"
    return SteadyLoad(url, RECORD, rate=RATE, clients=CLIENTS, max_seconds=MAX_SECONDS)


def tally(answers: Sequence[Answer]) -> Tally:
    """Count the answers in the order sent: before the first 200 they are waiting (refused, or 503
    from a proxy with no color live yet), after it each one that is not a 200 failed."""
    counted = Tally()
    for answer in answers:
        if answer.ok:
            counted.ok += 1
            counted.first_ok = counted.first_ok or answer.done
            counted.last_ok = answer.done
        elif not counted.ok:
            counted.waiting += 1
        else:
            counted.failed += 1
            what = answer.error or f"HTTP {answer.status}"
            counted.failures.append(
                f"{time.strftime('%H:%M:%S', time.localtime(answer.sent))} {what}"
            )
    return counted
