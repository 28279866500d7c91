"""Two transactions interleaved for certain: the test holds a lock in a transaction of its own
and waits until the others queue behind it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import asyncpg

from tests.conftest import Api

T = TypeVar("T")


@asynccontextmanager
async def holding(api: Api, sql: str, *args: Any, rollback: bool = False) -> AsyncIterator[None]:
    """A transaction of the test's own holding what `sql` locks, until the block ends (then
    committed, or with `rollback` rolled back: a row it wrote was never there)."""
    conn = await asyncpg.connect(api.settings.database_url)
    try:
        tx = conn.transaction()
        await tx.start()
        try:
            await conn.execute(sql, *args)
            yield
        except BaseException:
            await tx.rollback()
            raise
        if rollback:
            await tx.rollback()
        else:
            await tx.commit()
    finally:
        await conn.close()


async def waiting(api: Api, count: int) -> None:
    """Until `count` backends of the test's database wait on a lock (10 s at most)."""
    conn = await asyncpg.connect(api.settings.database_url)
    try:
        for _ in range(1000):
            found = await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if found >= count:
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"{count} transactions never waited on a lock")
    finally:
        await conn.close()


def started(work: Awaitable[T]) -> asyncio.Task[T]:
    return asyncio.ensure_future(work)
