"""Many concurrent requests settled in few transactions, each request answered on its own.

Requests for the same key (a batch's claims; every checkout) that arrive while a flush is in
flight wait and are settled together by the next flush, so a flash crowd costs a few commits
instead of one per request. The flush function answers each request (a result or a
DomainError); if it raises instead, the whole transaction rolled back and nothing was
written, so the flush is split in halves and each half settled again, down to the request
that fails: one client's bad request is never another client's answer (API.md, "Input
rules"). Only an unavailable database fails a whole flush at once: that answer is every
request's own, and retrying halves against a dead server would only delay it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from service.db import translate
from service.errors import DomainError, ErrorCode

log = logging.getLogger(__name__)

Key = TypeVar("Key", bound=Hashable)
Request = TypeVar("Request")
Answer = TypeVar("Answer")


@dataclass
class _Queue(Generic[Request, Answer]):
    waiting: list[tuple[Request, asyncio.Future[Answer | DomainError]]] = field(
        default_factory=list
    )
    draining: bool = False


class Combiner(Generic[Key, Request, Answer]):
    """`flush(key, requests)` settles requests of one key in one transaction and returns one
    outcome per request, in order. `max_size` bounds a flush; requests with equal
    `exclusive(request)` never share a flush (the later one waits for the next)."""

    def __init__(
        self,
        name: str,
        flush: Callable[[Key, list[Request]], Awaitable[list[Answer | DomainError]]],
        *,
        max_size: int,
        exclusive: Callable[[Request], Hashable] | None = None,
    ) -> None:
        self.name = name
        self._flush = flush
        self.max_size = max_size
        self._exclusive = exclusive
        self._queues: dict[Key, _Queue[Request, Answer]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(self, key: Key, request: Request) -> Answer:
        """The request's answer; its DomainError is raised."""
        future: asyncio.Future[Answer | DomainError] = asyncio.get_running_loop().create_future()
        queue = self._queues.setdefault(key, _Queue())
        queue.waiting.append((request, future))
        if not queue.draining:
            queue.draining = True
            task = asyncio.create_task(self._drain(key, queue))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        # Shielded: a client that hangs up does not undo what is being written for it (the
        # voucher is in its wallet; the checkout can look its redemption up by key).
        outcome = await asyncio.shield(future)
        if isinstance(outcome, DomainError):
            raise outcome
        return outcome

    def _take(
        self, queue: _Queue[Request, Answer]
    ) -> list[tuple[Request, asyncio.Future[Answer | DomainError]]]:
        if self._exclusive is None:
            taken = queue.waiting[: self.max_size]
            del queue.waiting[: self.max_size]
            return taken
        taken, later, seen = [], [], set()
        for item in queue.waiting:
            mark = self._exclusive(item[0])
            if mark in seen or len(taken) >= self.max_size:
                later.append(item)
            else:
                seen.add(mark)
                taken.append(item)
        queue.waiting = later
        return taken

    async def _drain(self, key: Key, queue: _Queue[Request, Answer]) -> None:
        try:
            while queue.waiting:
                failure = await self._settle(key, self._take(queue))
                if failure is not None:
                    # The database did not answer this flush in time: the requests queued
                    # behind it would only wait as long again. They get the same 503 now.
                    for _, future in queue.waiting:
                        if not future.done():
                            future.set_exception(failure)
                    queue.waiting.clear()
        except asyncio.CancelledError:
            for _, future in queue.waiting:
                if not future.done():
                    future.set_exception(
                        DomainError(
                            ErrorCode.UNAVAILABLE, "the service is shutting down", retry_after=2
                        )
                    )
            queue.waiting.clear()
            raise
        finally:
            queue.draining = False
            if not queue.waiting:
                self._queues.pop(key, None)

    async def _settle(
        self, key: Key, items: list[tuple[Request, asyncio.Future[Answer | DomainError]]]
    ) -> Exception | None:
        """Answer these requests; returns the failure if the database was unavailable."""
        try:
            outcomes = await self._flush(key, [request for request, _ in items])
        except Exception as exc:
            unavailable = _unavailable(exc)
            if len(items) == 1 or unavailable:
                for _, future in items:
                    if not future.done():
                        future.set_exception(exc)
                return exc if unavailable else None
            log.warning(
                "%s: a flush of %d failed (%s); settling it in halves",
                self.name,
                len(items),
                type(exc).__name__,
            )
            half = len(items) // 2
            failure = await self._settle(key, items[:half])
            if failure is None:
                return await self._settle(key, items[half:])
            for _, future in items[half:]:
                if not future.done():
                    future.set_exception(failure)
            return failure
        for (_, future), outcome in zip(items, outcomes, strict=True):
            if not future.done():
                future.set_result(outcome)
        return None

    async def close(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


def _unavailable(exc: Exception) -> bool:
    error = exc if isinstance(exc, DomainError) else translate(exc)
    return error is not None and error.code == "unavailable"
