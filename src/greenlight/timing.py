"""How long one call takes, for the cost figures the pipeline records and the PR compares. It is
the fastest of many timed calls, not their median: on a shared runner other work only ever adds
time, so the minimum is what the call itself costs and varies least from run to run (the
benchmark, tools/bench/explain.py, reports medians and p95 with a peer in the same run). Timed on
one thread, as the service runs its model (README, Serving: a thread team costs more than it saves
on one record)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from threadpoolctl import threadpool_limits

REPEATS = 200  # one-record calls: ~0.2-2 s in all on the 2-core machine
WARMUP = 5


def fastest_ms(call: Callable[[], Any], repeats: int = REPEATS) -> float:
    """The fastest of `repeats` timed calls after a few untimed ones, in milliseconds."""
    with threadpool_limits(limits=1):
        for _ in range(WARMUP):
            call()
        fastest = float("inf")
        for _ in range(repeats):
            started = time.perf_counter()
            call()
            fastest = min(fastest, time.perf_counter() - started)
    return round(fastest * 1000, 4)
