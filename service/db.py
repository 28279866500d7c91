"""The one thin database layer that `service/` and `jobs/` both call.

SQL lives in `sql/queries/*.sql` as named blocks (`-- name: insert_merchant`) with named
parameters (`:merchant_id`), loaded once and called by name with keyword arguments. Each
file names its one owner (`-- owner: service/domain/merchants.py`): only that module calls
its queries, and other areas call the owner's functions (a guard test holds it). asyncpg
stays behind this module: driver errors are turned into domain errors here, by constraint
name, never by message text.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from service.errors import DomainError, ErrorCode
from service.migrations import migrate_url
from service.settings import Settings

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
# Commands and jobs wait as long as their work takes; requests (open_database(bounded=True))
# get a connection within the settings' acquire timeout and each statement within their
# statement timeout, or answer 503: a slow or exhausted database never hangs a client.
UNBOUNDED_ACQUIRE_S = 60.0
UNBOUNDED_STATEMENT_S = 600.0
_NAME = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)
_OWNER = re.compile(r"\A--\s*owner:\s*(\S+)\s*$", re.MULTILINE)

# Constraint violations that a client can cause, as the API answers them.
CONSTRAINT_ERRORS: dict[str, tuple[ErrorCode, str]] = {
    "merchants_credit_code_key": (
        ErrorCode.CONFLICT,
        "a merchant with this credit code already exists",
    ),
    "batches_not_oversold": (ErrorCode.SOLD_OUT, "the batch has no vouchers left"),
    "batches_min_spend_covers_face_value": (
        ErrorCode.INVALID_REQUEST,
        "min_spend_fen must be at least face_value_fen",
    ),
    "batches_window_order": (
        ErrorCode.INVALID_REQUEST,
        "claim_ends_at must be after claim_starts_at",
    ),
    "batches_valid_until_after_start": (
        ErrorCode.INVALID_REQUEST,
        "valid_until must be after claim_starts_at",
    ),
    "batch_merchants_merchant_fkey": (
        ErrorCode.INVALID_REQUEST,
        "merchant_ids names an unknown merchant",
    ),
    "merchants_name_not_blank": (ErrorCode.INVALID_REQUEST, "name must not be blank"),
    "batches_title_not_blank": (ErrorCode.INVALID_REQUEST, "title must not be blank"),
    # Races the explicit checks lose to a transaction committing beside them.
    "merchant_applications_one_pending": (
        ErrorCode.DUPLICATE_APPLICATION,
        "an application with this credit code is pending already",
    ),
    "bank_returns_pkey": (ErrorCode.ALREADY_RETURNED, "the bank has answered for this payment"),
    "transfers_one_unwind": (
        ErrorCode.ALREADY_CLAWED_BACK,
        "this redemption has been clawed back or reversed already",
    ),
}


@dataclass(frozen=True)
class Query:
    """A named query: its SQL with `:name` parameters turned into PostgreSQL's `$n`, and the
    names in that order."""

    name: str
    text: str
    params: tuple[str, ...]
    # The module (or package, ending in /) that alone calls it, from its file's header.
    owner: str = ""

    def args(self, values: dict[str, Any]) -> list[Any]:
        """The positional arguments for `values`; a missing or extra name is refused before
        anything reaches the database."""
        if len(values) != len(self.params) or not all(p in values for p in self.params):
            missing = sorted(set(self.params) - values.keys())
            extra = sorted(values.keys() - set(self.params))
            raise TypeError(f"query {self.name}: missing {missing}, unexpected {extra}")
        return [values[p] for p in self.params]


# A string literal, a comment, a cast (::), or a parameter: only the last is rewritten.
_TOKEN = re.compile(r"'(?:[^']|'')*'|--[^\n]*|::|:([A-Za-z_]\w*)")


def parse_query(name: str, body: str, owner: str = "") -> Query:
    params: list[str] = []

    def number(match: re.Match[str]) -> str:
        param = match[1]
        if param is None:
            return match[0]
        if param not in params:
            params.append(param)
        return f"${params.index(param) + 1}"

    return Query(name, _TOKEN.sub(number, body), tuple(params), owner)


def load_queries(directory: Path = SQL_DIR / "queries") -> dict[str, Query]:
    queries: dict[str, Query] = {}
    for path in sorted(directory.glob("*.sql")):
        text = path.read_text(encoding="utf-8")
        owner = _OWNER.search(text)
        if owner is None:
            raise RuntimeError(f"{path.name} must begin with its owner: -- owner: <module path>")
        parts = _NAME.split(text)
        # parts = [preamble, name1, body1, name2, body2, ...]
        for name, body in zip(parts[1::2], parts[2::2], strict=True):
            if name in queries:
                raise RuntimeError(f"query {name} defined twice (second in {path.name})")
            if _POSITIONAL.search(_TOKEN.sub("", body)):
                raise RuntimeError(f"query {name} uses $n; name its parameters (:name)")
            queries[name] = parse_query(name, body.strip(), owner[1])
    return queries


_POSITIONAL = re.compile(r"\$\d")
QUERIES = load_queries()


def query(name: str) -> Query:
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
            ErrorCode.UNAVAILABLE, "the database is unavailable, try again shortly", retry_after=2
        )
    return None


def rows_of(status: str) -> int:
    """Rows touched, from asyncpg's command status ("INSERT 0 4", "UPDATE 7", "DELETE 0")."""
    return int(status.rsplit(" ", 1)[-1])


class Conn:
    """Named queries on one connection (inside a transaction when one is open)."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.raw = conn

    async def fetch(self, name: str, /, **params: Any) -> list[asyncpg.Record]:
        q = query(name)
        return await self.raw.fetch(q.text, *q.args(params))

    async def fetchrow(self, name: str, /, **params: Any) -> asyncpg.Record | None:
        q = query(name)
        return await self.raw.fetchrow(q.text, *q.args(params))

    async def fetchval(self, name: str, /, **params: Any) -> Any:
        q = query(name)
        return await self.raw.fetchval(q.text, *q.args(params))

    async def execute(self, name: str, /, **params: Any) -> str:
        q = query(name)
        return await self.raw.execute(q.text, *q.args(params))


async def _reset(conn: asyncpg.Connection) -> None:
    """What a connection needs before it goes back to the pool. asyncpg's default reset is a
    round trip on every release (unlisten, close cursors, reset settings, drop advisory locks);
    this service keeps no session state (transaction-scoped locks and SET LOCAL only), so
    only a transaction left open by a cancelled request has to go."""
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


@asynccontextmanager
async def open_database(
    settings: Settings,
    *,
    min_size: int | None = None,
    max_size: int | None = None,
    migrate: bool = True,
    bounded: bool = False,
) -> AsyncIterator[Database]:
    """The store of record the settings name (`database_url` resolved beforehand), migrated
    unless told not to, as every command and process opens it: with the statement cache
    setting that PgBouncer older than 1.21 needs. Pool sizes default to the settings'.
    `bounded`: for requests, with the settings' acquire and statement timeouts."""
    url = settings.database_url or ""
    if migrate:
        await migrate_url(url, settings.statement_cache_size)
    db = await Database.connect(
        url,
        min_size=settings.pool_min if min_size is None else min_size,
        max_size=settings.pool_max if max_size is None else max_size,
        statement_cache_size=settings.statement_cache_size,
        acquire_timeout=settings.db_acquire_timeout_s if bounded else UNBOUNDED_ACQUIRE_S,
        statement_timeout=settings.db_statement_timeout_s if bounded else UNBOUNDED_STATEMENT_S,
    )
    try:
        yield db
    finally:
        await db.close()


class Database:
    """The pool, with the same named-query methods; each call takes its own connection."""

    def __init__(self, pool: asyncpg.Pool, acquire_timeout: float = UNBOUNDED_ACQUIRE_S) -> None:
        self.pool = pool
        self.acquire_timeout = acquire_timeout

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        min_size: int = 2,
        max_size: int = 20,
        statement_cache_size: int = 100,
        acquire_timeout: float = UNBOUNDED_ACQUIRE_S,
        statement_timeout: float = UNBOUNDED_STATEMENT_S,
    ) -> Database:
        pool = await asyncpg.create_pool(
            url,
            min_size=min_size,
            max_size=max_size,
            # Client-side: asyncpg cancels the statement (also a lock wait) and raises
            # TimeoutError, which is 503. Works behind PgBouncer, unlike a SET.
            command_timeout=statement_timeout,
            reset=_reset,
            # Behind PgBouncer in transaction mode, prepared statements need PgBouncer >= 1.21
            # with max_prepared_statements; older ones need a cache size of 0.
            statement_cache_size=statement_cache_size,
            server_settings={"application_name": "festival", "timezone": "UTC"},
        )
        assert pool is not None
        return cls(pool, acquire_timeout)

    async def close(self) -> None:
        await self.pool.close()

    @asynccontextmanager
    async def _acquire(self) -> AsyncIterator[asyncpg.Connection]:
        # Failing to get a connection at all (server down, at its connection limit, not
        # accepting connections, pool exhausted) is "unavailable", whatever the cause.
        try:
            conn_cm = self.pool.acquire(timeout=self.acquire_timeout)
            conn = await conn_cm.__aenter__()
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise DomainError(
                ErrorCode.UNAVAILABLE,
                "the database is unavailable, try again shortly",
                retry_after=2,
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

    async def fetch(self, name: str, /, **params: Any) -> list[asyncpg.Record]:
        async with self.connection() as conn:
            return await conn.fetch(name, **params)

    async def fetchrow(self, name: str, /, **params: Any) -> asyncpg.Record | None:
        async with self.connection() as conn:
            return await conn.fetchrow(name, **params)

    async def fetchval(self, name: str, /, **params: Any) -> Any:
        async with self.connection() as conn:
            return await conn.fetchval(name, **params)

    async def execute(self, name: str, /, **params: Any) -> str:
        async with self.connection() as conn:
            return await conn.execute(name, **params)
