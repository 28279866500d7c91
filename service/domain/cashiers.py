"""Cashier accounts (收银员) of a merchant (API.md, "Cashiers").

The merchant's owner login (its own api key) adds and removes them. Each cashier signs in with
an api key of its own, shown once and stored as its SHA-256 only (as the merchant's); its token
names it (`cashier_id`). A cashier redeems, reverses and lists redemptions, and nothing else
(service/http.py keeps every other endpoint from it). A removed cashier keeps its row, so its
redemptions still name it, and its key and tokens stop working at once in every process: each
request checks the cashier live in the database (the redemption flush in its own context
statement, every other endpoint by `check_live`), nothing is remembered in a process.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

import asyncpg

from service.auth import hash_api_key, new_api_key
from service.db import Database
from service.domain import audit
from service.domain.context import Context
from service.errors import DomainError, ErrorCode
from service.vocabulary import (
    MAX_CASHIERS,
    PAIRING_ALPHABET,
    PAIRING_CODE_LENGTH,
    PAIRING_VALID_S,
)

# Additions to one merchant take turns, so MAX_CASHIERS holds under any concurrency.
LOCK_NAMESPACE = 0x43534852  # "CSHR"


def _target(merchant_id: int, cashier_id: int) -> str:
    return f"merchants/{merchant_id}/cashiers/{cashier_id}"


async def add(ctx: Context, merchant_id: int, *, name: str) -> tuple[asyncpg.Record, str]:
    """A new cashier of the merchant, and its api key (the only time it is known)."""
    api_key = new_api_key()
    async with ctx.db.transaction() as tx:
        await tx.execute(
            "lock_merchant_cashiers", namespace=LOCK_NAMESPACE, merchant_id=merchant_id
        )
        live = await tx.fetchval("live_cashier_count", merchant_id=merchant_id)
        if live >= MAX_CASHIERS:
            raise DomainError(
                ErrorCode.LIMIT_REACHED,
                f"a merchant may have at most {MAX_CASHIERS} cashiers; remove one first",
                {"max_cashiers": MAX_CASHIERS},
            )
        row = await tx.fetchrow(
            "insert_cashier",
            merchant_id=merchant_id,
            name=name,
            api_key_hash=hash_api_key(api_key),
            now=ctx.now,
        )
        if row is None:
            raise DomainError(ErrorCode.FORBIDDEN, "this token's merchant does not exist")
        await audit.append(
            tx,
            actor=ctx.actor,
            action="cashier.create",
            target=_target(merchant_id, row["id"]),
            before=None,
            after=audit.snapshot(row),
            now=ctx.now,
        )
    return row, api_key


async def of_merchant(db: Database, merchant_id: int) -> list[asyncpg.Record]:
    """The merchant's cashiers, live and removed, oldest first."""
    return await db.fetch("merchant_cashiers", merchant_id=merchant_id)


async def remove(ctx: Context, merchant_id: int, *, cashier_id: int) -> asyncpg.Record:
    """The cashier, removed now (already removed: as it was); another merchant's is not found.
    From the commit on, its key signs nobody in and its tokens are refused."""
    async with ctx.db.transaction() as tx:
        before = await tx.fetchrow("lock_cashier", cashier_id=cashier_id, merchant_id=merchant_id)
        if before is None:
            raise DomainError(ErrorCode.NOT_FOUND, "no such cashier")
        if before["removed_at"] is not None:
            return before
        row = await tx.fetchrow("remove_cashier", cashier_id=cashier_id, now=ctx.now)
        assert row is not None
        await audit.append(
            tx,
            actor=ctx.actor,
            action="cashier.remove",
            target=_target(merchant_id, cashier_id),
            before=audit.snapshot(before),
            after=audit.snapshot(row),
            now=ctx.now,
        )
    return row


async def check_live(db: Database, merchant_id: int, *, cashier_id: int) -> str:
    """The name of the merchant's cashier, which must not be removed (else 401: its tokens
    stopped working when it was). One lookup by primary key."""
    name = await db.fetchval("live_cashier", cashier_id=cashier_id, merchant_id=merchant_id)
    if name is None:
        raise DomainError(ErrorCode.UNAUTHORIZED, "this cashier account has been removed")
    return str(name)


def normal_pairing_code(typed: str) -> str:
    """A pairing code as typed (lower case, spaces, a dash between its halves) made canonical."""
    return "".join(ch for ch in typed.upper() if ch.isalnum())


def pairing_code_hash(code: str) -> bytes:
    """What the database keeps of a pairing code: its SHA-256 (the code lives 5 minutes)."""
    return hashlib.sha256(b"cashier-pairing:" + normal_pairing_code(code).encode()).digest()


async def pair(ctx: Context, merchant_id: int, *, cashier_id: int) -> dict[str, object]:
    """A new pairing code for one of the merchant's live cashiers (another merchant's, or a
    removed one: not found): shown once, valid PAIRING_VALID_S seconds, good for one sign-in
    (service/domain/logins.py exchanges it). Audited without the code."""
    expires_at: datetime = ctx.now + timedelta(seconds=PAIRING_VALID_S)
    for _ in range(5):  # a draw equal to a pending code is drawn again (1 in 10^12 each)
        code = "".join(secrets.choice(PAIRING_ALPHABET) for _ in range(PAIRING_CODE_LENGTH))
        async with ctx.db.transaction() as tx:
            live = await tx.fetchrow("lock_cashier", cashier_id=cashier_id, merchant_id=merchant_id)
            if live is None or live["removed_at"] is not None:
                raise DomainError(ErrorCode.NOT_FOUND, "no such cashier")
            row = await tx.fetchrow(
                "insert_pairing",
                merchant_id=merchant_id,
                cashier_id=cashier_id,
                code_hash=pairing_code_hash(code),
                now=ctx.now,
                expires_at=expires_at,
            )
            if row is None:
                continue
            await audit.append(
                tx,
                actor=ctx.actor,
                action="cashier.pair",
                target=_target(merchant_id, cashier_id),
                before=None,
                after={"pairing_id": row["id"], "expires_at": expires_at.isoformat()},
                now=ctx.now,
            )
        return {
            "cashier_id": cashier_id,
            "code": code,
            "expires_at": expires_at,
            "valid_for_s": PAIRING_VALID_S,
        }
    raise DomainError(ErrorCode.UNAVAILABLE, "no free pairing code; try again")
