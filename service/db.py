"""The one thin database layer that `service/` and `jobs/` both call.

SQL lives in `sql/queries/*.sql` as named blocks (`-- name: insert_merchant`), loaded once
and called by name. asyncpg stays behind this module: driver errors are turned into domain
errors here, by constraint name, never by message text.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg

from service.errors import DomainError

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
ACQUIRE_TIMEOUT_S = 5.0
_NAME = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)

# Constraint violations that a client can cause, as the API answers them.
CONSTRAINT_ERRORS: dict[str, tuple[str, str]] = {
    "merchants_credit_code_key": ("conflict", "a merchant with this credit code already exists"),
    "batches_not_oversold": ("sold_out", "the batch has no vouchers left"),
    "batches_min_spend_covers_face_value": (
        "invalid_request",
        "min_spend_fen must be at least face_value_fen",
    ),
    "batches_window_order": ("invalid_request", "claim_ends_at must be after claim_starts_at"),
    "batches_valid_until_after_start": (
        "invalid_request",
        "valid_until must be after claim_starts_at",
    ),
    "batch_merchants_merchant_fkey": ("invalid_request", "merchant_ids names an unknown merchant"),
    "merchants_name_not_blank": ("invalid_request", "name must not be blank"),
    "batches_title_not_blank": ("invalid_request", "title must not be blank"),
}


def load_queries(directory: Path = SQL_DIR / "queries") -> dict[str, str]:
    queries: dict[str, str] = {}
    for path in sorted(directory.glob("*.sql")):
        text = path.read_text(encoding="utf-8")
        parts = _NAME.split(text)
        # parts = [preamble, name1, body1, name2, body2, ...]
        for name, body in zip(parts[1::2], parts[2::2], strict=True):
            if name in queries:
                raise RuntimeError(f"query {name} defined twice (second in {path.name})")
            queries[name] = body.strip()
    return queries


QUERIES = load_queries()


def sql(name: str) -> str:
    try:
        return QUERIES[name]
    except KeyError:
        raise RuntimeError(f"no query named {name!r} in sql/queries") from None


def translate(exc: BaseException) -> DomainError | None:
    """The domain error for a driver error, or None when it is a bug of ours."""
    if isinstance(exc, asyncpg.IntegrityConstraintViolationError):
        name = getattr(exc, "constraint_name", None)
        if name in CONSTRAINT_ERRORS:
            code, message = CONSTRAINT_ERRORS[name]
            return DomainError(code, message, {"constraint": name})
        return None
    if isinstance(
        exc,
        (
            asyncpg.CannotConnectNowError,
            asyncpg.TooManyConnectionsError,
            asyncpg.ConnectionDoesNotExistError,
            asyncpg.InterfaceError,
            asyncpg.PostgresConnectionError,
            asyncpg.exceptions.AdminShutdownError,
            # What asyncpg raises on a connection the server closed under it.
            asyncpg.exceptions.InternalClientError,
            ConnectionError,
            OSError,
            TimeoutError,
        ),
    ):
        return DomainError(
            "unavailable", "the database is unavailable, try again shortly", retry_after=2
        )
    return None


class Conn:
    """Named queries on one connection (inside a transaction when one is open)."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.raw = conn

    async def fetch(self, name: str, *args: Any) -> list[asyncpg.Record]:
        return await self.raw.fetch(sql(name), *args)

    async def fetchrow(self, name: str, *args: Any) -> asyncpg.Record | None:
        return await self.raw.fetchrow(sql(name), *args)

    async def fetchval(self, name: str, *args: Any) -> Any:
        return await self.raw.fetchval(sql(name), *args)

    async def execute(self, name: str, *args: Any) -> str:
        return await self.raw.execute(sql(name), *args)

    async def executemany(self, name: str, args: Sequence[Sequence[Any]]) -> None:
        await self.raw.executemany(sql(name), args)


async def _reset(conn: asyncpg.Connection) -> None:
    """What a connection needs before it goes back to the pool. asyncpg's default reset is a
    round trip on every release (unlisten, close cursors, reset settings, drop advisory locks);
    this service keeps no session state (transaction-scoped locks and SET LOCAL only), so
    only a transaction left open by a cancelled request has to go."""
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


class Database:
    """The pool, with the same named-query methods; each call takes its own connection."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @classmethod
    async def connect(
        cls, url: str, *, min_size: int = 2, max_size: int = 20, statement_cache_size: int = 100
    ) -> Database:
        pool = await asyncpg.create_pool(
            url,
            min_size=min_size,
            max_size=max_size,
            command_timeout=30,
            reset=_reset,
            # Behind PgBouncer in transaction mode, prepared statements need PgBouncer >= 1.21
            # with max_prepared_statements; older ones need a cache size of 0.
            statement_cache_size=statement_cache_size,
            server_settings={"application_name": "festival", "timezone": "UTC"},
        )
        assert pool is not None
        return cls(pool)

    async def close(self) -> None:
        await self.pool.close()

    @asynccontextmanager
    async def _acquire(self) -> AsyncIterator[asyncpg.Connection]:
        # Failing to get a connection at all (server down, at its connection limit, not
        # accepting connections, pool exhausted) is "unavailable", whatever the cause.
        try:
            conn_cm = self.pool.acquire(timeout=ACQUIRE_TIMEOUT_S)
            conn = await conn_cm.__aenter__()
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise DomainError(
                "unavailable", "the database is unavailable, try again shortly", retry_after=2
            ) from exc
        try:
            yield conn
        finally:
            await conn_cm.__aexit__(None, None, None)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Conn]:
        async with self._acquire() as conn:
            yield Conn(conn)

    @asynccontextmanager
    async def transaction(self, isolation: str = "read_committed") -> AsyncIterator[Conn]:
        async with self._acquire() as conn, conn.transaction(isolation=isolation):
            yield Conn(conn)

    async def fetch(self, name: str, *args: Any) -> list[asyncpg.Record]:
        async with self._acquire() as conn:
            return await conn.fetch(sql(name), *args)

    async def fetchrow(self, name: str, *args: Any) -> asyncpg.Record | None:
        async with self._acquire() as conn:
            return await conn.fetchrow(sql(name), *args)

    async def fetchval(self, name: str, *args: Any) -> Any:
        async with self._acquire() as conn:
            return await conn.fetchval(sql(name), *args)

    async def execute(self, name: str, *args: Any) -> str:
        async with self._acquire() as conn:
            return await conn.execute(sql(name), *args)
