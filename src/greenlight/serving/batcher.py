"""Coalescing of concurrent requests into one model call, on the event loop.

The model's cost is mostly per call, not per record (a gradient-boosted model walks each tree
once per call), so under concurrent load one call for eight requests costs about what one request
costs alone. A request queues its records and, if no drain is scheduled, schedules one; the drain
first yields to the event loop so that requests already received can join, then predicts all
queued records (at most `max_rows`, always at least one request) in one call and hands each
request its share. With one request at a time nothing waits: the drain runs on the next loop
iteration. Unlike BentoML's adaptive batching there is no waiting window to tune and the response
keeps its shape (one body per request, model version included)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

Request = TypeVar("Request")
Result = TypeVar("Result")


@dataclass(frozen=True)
class _Waiting(Generic[Request, Result]):
    request: Request
    size: int
    future: asyncio.Future[Result]


class Coalescer(Generic[Request, Result]):
    def __init__(
        self, process: Callable[[Sequence[Request]], list[Result]], max_rows: int, yields: int = 2
    ) -> None:
        self.process = process  # one result per request, in order
        self.max_rows = max_rows
        self.yields = yields  # loop iterations a drain lets pass for requests to join
        self.calls = 0
        self._waiting: list[_Waiting[Request, Result]] = []
        self._draining = False

    async def submit(self, request: Request, size: int) -> Result:
        """The result for `request` (`size` records), computed together with its neighbours."""
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(request, size, future))
        if not self._draining:
            self._draining = True
            asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._waiting:
                for _ in range(self.yields):
                    await asyncio.sleep(0)
                self._run(self._take())
        finally:
            self._draining = False

    def _take(self) -> list[_Waiting[Request, Result]]:
        taken, rows = [self._waiting[0]], self._waiting[0].size
        for waiting in self._waiting[1:]:
            if rows + waiting.size > self.max_rows:
                break
            taken.append(waiting)
            rows += waiting.size
        del self._waiting[: len(taken)]
        return taken

    def _run(self, taken: list[_Waiting[Request, Result]]) -> None:
        self.calls += 1
        try:
            results = self.process([waiting.request for waiting in taken])
        except Exception as error:  # noqa: BLE001 (re-raised in every request of the call)
            for waiting in taken:
                waiting.future.set_exception(error)
            return
        for waiting, result in zip(taken, results, strict=True):
            waiting.future.set_result(result)
