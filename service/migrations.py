"""Ordered schema migrations from `sql/migrations/NNNN_*.sql`.

Each file is applied in its own transaction holding a transaction-scoped advisory lock
(safe behind PgBouncer), re-checking inside the lock whether another process applied it
first, and recorded with its checksum so an edited, already-applied file is caught.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

log = logging.getLogger(__name__)

# Found from this file, not from service.db: the database layer imports this module.
MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "sql" / "migrations"
# Any fixed 64-bit number that no other advisory lock of ours uses.
LOCK_KEY = 0x6665_7374_6976_616C  # "festival"
_FILE = re.compile(r"^(\d{4})_(\w+)\.sql$")

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     integer PRIMARY KEY,
    name        text NOT NULL,
    checksum    text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)
"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def available(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    found = []
    for path in sorted(directory.glob("*.sql")):
        match = _FILE.match(path.name)
        if not match:
            raise RuntimeError(f"migration file {path.name} is not named NNNN_name.sql")
        found.append(Migration(int(match[1]), match[2], path.read_text(encoding="utf-8")))
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migration versions must run 1, 2, 3… without gaps: {versions}")
    return found


async def migrate(conn: asyncpg.Connection, upto: int | None = None) -> list[int]:
    """Apply every pending migration (up to version `upto`, for tests of a migration from the
    schema before it); returns the versions this call applied."""
    applied_now: list[int] = []
    for migration in available():
        if upto is not None and migration.version > upto:
            break
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", LOCK_KEY)
            await conn.execute(_CREATE_TABLE)
            row = await conn.fetchrow(
                "SELECT checksum FROM schema_migrations WHERE version = $1", migration.version
            )
            if row is not None:
                if row["checksum"] != migration.checksum:
                    raise RuntimeError(
                        f"migration {migration.version:04d}_{migration.name} was changed after it"
                        " was applied; add a new migration instead"
                    )
                continue
            await conn.execute(migration.sql)
            await conn.execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                migration.version,
                migration.name,
                migration.checksum,
            )
            applied_now.append(migration.version)
            log.info("applied migration %04d_%s", migration.version, migration.name)
    return applied_now


async def current_version(conn: asyncpg.Connection | asyncpg.Pool) -> int:
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not exists:
        return 0
    return int(await conn.fetchval("SELECT coalesce(max(version), 0) FROM schema_migrations"))


def latest_version() -> int:
    return len(available())


async def migrate_url(
    url: str, statement_cache_size: int = 100, upto: int | None = None
) -> list[int]:
    conn = await asyncpg.connect(url, statement_cache_size=statement_cache_size)
    try:
        return await migrate(conn, upto)
    finally:
        await conn.close()
