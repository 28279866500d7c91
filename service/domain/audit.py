"""The bureau's audit trail: every bureau write appends an entry in its own transaction.

Entries are hash-chained (API.md, "Money safety"): `hash` is the hex SHA-256 of `prev_hash`
followed by the entry's canonical JSON (keys sorted, no spaces, UTF-8; `at` in UTC with
microseconds), the first entry's `prev_hash` is 64 zeros. The table refuses UPDATE and DELETE
(sql/migrations/0007_audit_log.sql); `verify` recomputes the chain and names the first entry
that does not fit, so a row edited behind the database's back is found.

What an entry records of an object is its snapshot: the row without secrets (api key hashes,
undrawn seeds), phones and account numbers masked, times as ISO strings.
"""

from __future__ import annotations

import getpass
import hashlib
import hmac
import json
import os
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import asyncpg

from service.db import Conn, Database
from service.domain.context import Actor, Context
from service.domain.phones import mask_account, mask_phone

GENESIS = "0" * 64
LOCK_NAMESPACE = 0x41554454  # "AUDT": appends take turns, so the chain follows the ids
# Never in an entry: what would let a reader act as someone, or know a draw before it happens.
HIDDEN = frozenset({"api_key_hash", "seed", "password_hash"})
MASKED: dict[str, Callable[[str], str | None]] = {
    "contact_phone": mask_phone,
    "account_no": mask_account,
}


def operator() -> Actor:
    """A command run on a server: the operating-system account that ran it."""
    try:
        who = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a bare container)
        who = str(os.getuid())
    return Actor(f"cli:{who}")


def snapshot(
    row: Mapping[str, Any] | None, *, fingerprint_key: bytes | None = None, **extra: Any
) -> dict[str, Any] | None:
    """A row as an entry records it (see the module's docstring). With `fingerprint_key`, a
    bank account number also gets its HMAC (`account_no_hmac`): a change that keeps the last
    four digits still shows, and the number itself never does."""
    if row is None:
        return None
    out: dict[str, Any] = {}
    for key, value in {**dict(row), **extra}.items():
        if key in HIDDEN:
            continue
        if key == "account_no" and fingerprint_key is not None:
            out["account_no_hmac"] = (
                None if value is None else account_fingerprint(fingerprint_key, value)
            )
        if key in MASKED and isinstance(value, str):
            value = MASKED[key](value)
        out[key] = jsonable(value)
    return out


def account_fingerprint(key: bytes, account_no: str) -> str:
    """An HMAC of an account number: equal numbers match, the number itself never shows."""
    return hmac.new(key, account_no.encode(), hashlib.sha256).hexdigest()[:16]


async def fingerprint_key(tx: Conn) -> bytes:
    """The key of account numbers' fingerprints (made by migration 0011, in app_keys)."""
    return bytes(await tx.fetchval("account_fingerprint_key"))


def jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return None
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def canonical(entry: Mapping[str, Any]) -> str:
    """The entry's canonical JSON: every field but `hash`."""
    fields = {k: v for k, v in entry.items() if k != "hash"}
    fields["at"] = entry["at"].astimezone(UTC).isoformat()
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(entry: Mapping[str, Any]) -> str:
    return hashlib.sha256((entry["prev_hash"] + canonical(entry)).encode()).hexdigest()


async def append(
    tx: Conn,
    *,
    actor: Actor,
    action: str,
    target: str,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    now: datetime,
) -> int:
    """Appends an entry in the caller's transaction (so it stands or falls with the write)."""
    await tx.execute("audit_lock", namespace=LOCK_NAMESPACE)
    head = await tx.fetchrow("audit_head")
    assert head is not None
    entry = {
        "id": head["id"],
        "at": now,
        "actor": actor.name,
        "action": action,
        "object": target,
        "before": jsonable(before),
        "after": jsonable(after),
        "request_id": actor.request_id,
        "prev_hash": head["prev_hash"],
    }
    entry["hash"] = entry_hash(entry)
    await tx.execute(
        "audit_insert",
        **{k: v for k, v in entry.items() if k not in ("before", "after")},
        before=None if before is None else json.dumps(entry["before"], ensure_ascii=False),
        after=None if after is None else json.dumps(entry["after"], ensure_ascii=False),
    )
    return int(entry["id"])


async def append_row_change(
    tx: Conn,
    ctx: Context,
    *,
    action: str,
    target: str,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
) -> int:
    """An entry for a row written in `tx` (merchant, application): both sides snapshotted, a
    bank account number as its fingerprint (see `snapshot`)."""
    key = await fingerprint_key(tx)
    return await append(
        tx,
        actor=ctx.actor,
        action=action,
        target=target,
        before=snapshot(before, fingerprint_key=key),
        after=snapshot(after, fingerprint_key=key),
        now=ctx.now,
    )


async def record(
    ctx: Context,
    action: str,
    *,
    target: str,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
) -> int:
    """An entry for an action that writes nothing else (it starts work done elsewhere)."""
    async with ctx.db.transaction() as tx:
        return await append(
            tx,
            actor=ctx.actor,
            action=action,
            target=target,
            before=before,
            after=after,
            now=ctx.now,
        )


def entry_of(row: asyncpg.Record) -> dict[str, Any]:
    """An entry as read back (jsonb columns come as text)."""
    entry = dict(row)
    for key in ("before", "after"):
        entry[key] = None if entry[key] is None else json.loads(entry[key])
    return entry


async def entries(
    db: Database,
    from_at: datetime | None,
    *,
    to_at: datetime | None,
    actor: str | None,
    action: str | None,
    object_: str | None,
    limit: int,
    before_id: int | None = None,
) -> list[dict[str, Any]]:
    rows = await db.fetch(
        "audit_entries",
        before_id=before_id,
        from_at=from_at,
        to_at=to_at,
        actor=actor,
        action=action,
        object=object_,
        limit=limit,
    )
    return [entry_of(r) for r in rows]


@dataclass(frozen=True)
class Verified:
    checked: int
    broken_id: int | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.broken_id is None


def _fault(entry: Mapping[str, Any], prev_hash: str) -> str | None:
    """Why an entry does not fit after the one whose hash is `prev_hash`, if it does not."""
    if entry["prev_hash"] != prev_hash:
        return "its prev_hash is not the previous entry's hash"
    if entry_hash(entry) != entry["hash"]:
        return "its content does not match its hash"
    return None


async def chain(db: Database, batch: int = 5000) -> AsyncIterator[dict[str, Any]]:
    """Every entry in id order, read in pages (the log only grows)."""
    after = 0
    while True:
        rows = await db.fetch("audit_chain_page", after_id=after, size=batch)
        for row in rows:
            yield entry_of(row)
        if len(rows) < batch:
            return
        after = rows[-1]["id"]


async def verify(db: Database) -> Verified:
    """The first entry (in id order) whose link or hash does not fit, if any; the log is
    read a page at a time (it only grows)."""
    prev, checked = GENESIS, 0
    async for entry in chain(db):
        if (fault := _fault(entry, prev)) is not None:
            return Verified(checked, entry["id"], fault)
        prev, checked = entry["hash"], checked + 1
    return Verified(checked)
