"""A slow or exhausted database: requests end with 503 unavailable and Retry-After within a
bounded time, never hang until the client gives up, and /readyz says so. (The bounds here are
liveness, not speed: a request must end, well before a client would give up.)"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from service.app import create_app
from tests.conftest import Api, assert_error

GIVE_UP_S = 10  # what a patient client waits; every answer must come well before


@pytest.fixture
async def tight_api(api: Api, aiohttp_client: Any) -> Api:
    """The same database behind an app with a 3-connection pool, waiting 1 s for a
    connection and 2 s for a statement."""
    settings = dataclasses.replace(
        api.settings, pool_min=1, pool_max=3, db_acquire_timeout_s=1.0, db_statement_timeout_s=2.0
    )
    client = await aiohttp_client(create_app(settings=settings, clock=api.clock, sms=api.sms))
    return Api(client, settings, api.clock, api.sms)


@pytest.fixture
async def locked_batches(db_url: str) -> AsyncIterator[asyncpg.Connection]:
    """Another session holds the batches table locked (a long migration, a stuck operator)."""
    conn = await asyncpg.connect(db_url)
    tx = conn.transaction()
    await tx.start()
    await conn.execute("LOCK TABLE batches IN ACCESS EXCLUSIVE MODE")
    try:
        yield conn
    finally:
        await tx.rollback()
        await conn.close()


async def timed(api: Api, method: str, path: str, **kw: Any) -> tuple[float, int, Any, Any]:
    started = time.monotonic()
    resp = await asyncio.wait_for(api.client.request(method, path, **kw), GIVE_UP_S)
    body = await resp.json()
    return time.monotonic() - started, resp.status, body, resp.headers


async def test_claims_waiting_on_a_long_lock_end_with_503(
    tight_api: Api, locked_batches: asyncpg.Connection
) -> None:
    answers = await asyncio.gather(
        *(
            timed(
                tight_api,
                "POST",
                "/api/v1/batches/1/claims",
                headers=tight_api.auth("resident", f"r{i}"),
            )
            for i in range(20)
        )
    )
    for elapsed, status, body, headers in answers:
        assert_error(status, body, 503, "unavailable")
        assert int(headers["Retry-After"]) > 0
        assert elapsed < GIVE_UP_S / 2, elapsed


async def test_an_exhausted_pool_answers_503_and_readyz_says_so(
    tight_api: Api, locked_batches: asyncpg.Connection
) -> None:
    # Three requests hold the three connections while they wait on the lock...
    held = [
        asyncio.create_task(
            timed(tight_api, "GET", "/api/v1/batches", headers=tight_api.auth("resident", f"h{i}"))
        )
        for i in range(3)
    ]
    for _ in range(100):
        # This session is in a transaction: drop its snapshot of the activity view first.
        await locked_batches.execute("SELECT pg_stat_clear_snapshot()")
        waiting = await locked_batches.fetchval(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        if waiting >= 3:
            break
        await asyncio.sleep(0.02)
    assert waiting == 3
    # ...so the next one gets no connection, and the probe reports it.
    elapsed, status, body, headers = await timed(tight_api, "GET", "/readyz")
    assert status == 503, body
    assert body["status"] == "unavailable" and body["pool"]["idle"] == 0, body
    assert headers["Retry-After"]
    for elapsed, status, body, _ in await asyncio.gather(*held):
        assert_error(status, body, 503, "unavailable")
        assert elapsed < GIVE_UP_S / 2, elapsed


async def test_the_service_is_ready_again_once_the_lock_is_gone(
    tight_api: Api, db_url: str
) -> None:
    conn = await asyncpg.connect(db_url)
    try:
        tx = conn.transaction()
        await tx.start()
        await conn.execute("LOCK TABLE batches IN ACCESS EXCLUSIVE MODE")
        _, status, _, _ = await timed(tight_api, "GET", "/api/v1/batches")
        assert status == 503
        await tx.rollback()
    finally:
        await conn.close()
    _, status, body, _ = await timed(tight_api, "GET", "/api/v1/batches")
    assert status == 200, body
    # Not ready for a few seconds after its last 503 (TROUBLE_WINDOW_S), then ready by itself.
    _, status, body, _ = await timed(tight_api, "GET", "/readyz")
    assert status == 503 and "answered 503" in body["reason"], body
    for _ in range(100):
        _, status, body, _ = await timed(tight_api, "GET", "/readyz")
        if status == 200:
            break
        await asyncio.sleep(0.1)
    assert (status, body["status"]) == (200, "ready")
