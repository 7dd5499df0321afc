"""Concurrent requests share model calls; each still gets its own result, in order, or the
error of its call."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest

from greenlight.serving.batcher import Coalescer


class Model:
    """Doubles numbers; records every call's batch."""

    def __init__(self, fail_on: int | None = None) -> None:
        self.calls: list[list[list[int]]] = []
        self.fail_on = fail_on

    def __call__(self, requests: Sequence[list[int]]) -> list[list[int]]:
        self.calls.append(list(requests))
        if self.fail_on is not None and any(self.fail_on in request for request in requests):
            raise ValueError(f"cannot predict {self.fail_on}")
        return [[2 * value for value in request] for request in requests]


async def submit_all(coalescer: Coalescer, requests: list[list[int]]) -> list[object]:
    tasks = [coalescer.submit(request, len(request)) for request in requests]
    return await asyncio.gather(*tasks, return_exceptions=True)


def test_concurrent_requests_share_one_call_and_keep_their_results() -> None:
    model = Model()
    coalescer = Coalescer(model, max_rows=100)
    requests = [[index, index + 100] for index in range(8)]
    results = asyncio.run(submit_all(coalescer, requests))
    assert results == [[2 * a, 2 * b] for a, b in requests]
    assert model.calls == [requests]


def test_a_call_never_exceeds_max_rows_but_always_takes_one_request() -> None:
    model = Model()
    coalescer = Coalescer(model, max_rows=5)
    requests = [[1, 2], [3, 4], [5, 6], [7] * 9, [8]]
    results = asyncio.run(submit_all(coalescer, requests))
    assert results == [[2 * value for value in request] for request in requests]
    assert model.calls == [[[1, 2], [3, 4]], [[5, 6]], [[7] * 9], [[8]]]


def test_requests_one_at_a_time_each_get_their_own_call() -> None:
    model = Model()
    coalescer = Coalescer(model, max_rows=100)

    async def one_by_one() -> list[list[int]]:
        return [await coalescer.submit([value], 1) for value in range(3)]

    assert asyncio.run(one_by_one()) == [[0], [2], [4]]
    assert model.calls == [[[0]], [[1]], [[2]]]


def test_a_failing_call_fails_its_requests_only() -> None:
    model = Model(fail_on=13)
    coalescer = Coalescer(model, max_rows=2)
    results = asyncio.run(submit_all(coalescer, [[1], [13], [5]]))
    assert isinstance(results[0], ValueError) and isinstance(results[1], ValueError)
    assert str(results[1]) == "cannot predict 13"
    assert results[2] == [10]


def test_the_coalescer_recovers_after_a_failure() -> None:
    model = Model(fail_on=13)
    coalescer = Coalescer(model, max_rows=10)

    async def scenario() -> list[int]:
        with pytest.raises(ValueError, match="13"):
            await coalescer.submit([13], 1)
        return await coalescer.submit([4], 1)

    assert asyncio.run(scenario()) == [8]


def test_requests_that_come_while_a_call_runs_in_its_thread_share_the_next_call() -> None:
    started, release = threading.Event(), threading.Event()
    model = Model()

    def slow_model(requests: Sequence[list[int]]) -> list[list[int]]:
        started.set()
        release.wait(10)  # the first call holds its thread until every later request is queued
        return model(requests)

    async def scenario() -> list[object]:
        with ThreadPoolExecutor(1) as thread:
            coalescer = Coalescer(slow_model, max_rows=100, executor=thread)
            first = asyncio.ensure_future(coalescer.submit([0], 1))
            while not started.is_set():
                await asyncio.sleep(0.001)  # the event loop stays free while the model runs
            later = [asyncio.ensure_future(coalescer.submit([n], 1)) for n in range(1, 6)]
            for _ in range(10):
                await asyncio.sleep(0)
            release.set()
            return await asyncio.gather(first, *later)

    assert asyncio.run(scenario()) == [[0], [2], [4], [6], [8], [10]]
    assert model.calls == [[[0]], [[1], [2], [3], [4], [5]]]
