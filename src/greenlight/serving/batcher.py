"""Coalescing of concurrent requests into one model call, on the event loop.

The model's cost is mostly per call, not per record (a gradient-boosted model walks each tree
once per call), so under concurrent load one call for eight requests costs about what one request
costs alone. A request joins the open batch (or opens one, whose task first yields to the event
loop so that requests already received can join), then awaits that batch's one call (at most
`max_rows`, always at least one request) and takes its share. An error of the call reaches every
request of that call through the shared task, with no catch-all. With one request at a time
nothing waits: the call runs on the next loop iteration. Unlike BentoML's adaptive batching there
is no waiting window to tune and the response keeps its shape (one body per request, model
version included)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Generic, TypeVar

Request = TypeVar("Request")
Result = TypeVar("Result")


@dataclass
class _Batch(Generic[Request, Result]):
    """Requests that will share one model call, and the task that makes it."""

    requests: list[Request] = field(default_factory=list)
    rows: int = 0
    task: asyncio.Task[list[Result]] | None = None


class Coalescer(Generic[Request, Result]):
    def __init__(
        self,
        process: Callable[[Sequence[Request]], list[Result]],
        max_rows: int,
        yields: int = 2,
        executor: ThreadPoolExecutor | None = None,
    ) -> None:
        self.process = process  # one result per request, in order
        self.max_rows = max_rows
        self.yields = yields  # loop iterations a batch waits for requests to join
        self.calls = 0
        self._open: _Batch[Request, Result] | None = None
        # One call at a time, off the event loop: while it runs (the model releases the GIL),
        # the loop keeps reading requests, and they all join the next call.
        self._executor = executor
        self._one_call = asyncio.Lock()

    async def submit(self, request: Request, size: int) -> Result:
        """The result for `request` (`size` records), computed together with its neighbours.
        A failed call raises its error in every request of that call, and only there."""
        batch = self._batch_with_room(size)
        index = len(batch.requests)
        batch.requests.append(request)
        batch.rows += size
        # shield: a client that goes away must not cancel its neighbours' call
        results = await asyncio.shield(batch.task)
        return results[index]

    def _batch_with_room(self, size: int) -> _Batch[Request, Result]:
        """The open batch if `size` more rows fit, else a new one (which always takes one)."""
        batch = self._open
        if batch is None or batch.rows + size > self.max_rows:
            batch = _Batch()
            batch.task = asyncio.get_running_loop().create_task(self._run(batch))
            self._open = batch
        return batch

    async def _run(self, batch: _Batch[Request, Result]) -> list[Result]:
        for _ in range(self.yields):
            await asyncio.sleep(0)
        async with self._one_call:  # the batch stays open while the previous call runs
            if self._open is batch:
                self._open = None  # closed: later requests start the next batch
            self.calls += 1
            if self._executor is None:
                return self.process(batch.requests)
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._executor, self.process, batch.requests)
