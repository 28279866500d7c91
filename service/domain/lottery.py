"""Lottery batches (摇号): registration, a draw anyone can verify, and its public record.

A lottery batch's claim window is its registration window. Its seed (32 random bytes) is drawn
when the batch is created and kept secret; its SHA-256 (`seed_commitment`) is public from the
start. At `draw_at` the entries are ranked by HMAC-SHA256(seed, entry_id) ascending and the
first ones win, as many as the stock; then the seed, the ranking and the winners are public,
so anyone can recompute the draw (`verify_record`, `festival lottery verify`). The draw is one
transaction: killed half-way it leaves nothing, and the next run draws again.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from service.db import Conn, Database
from service.domain import audit, messages, persons
from service.domain.claims import expiry
from service.domain.codes import new_code
from service.domain.context import Context
from service.errors import DomainError, ErrorCode
from service.vocabulary import LOTTERY

SEED_BYTES = 32


def new_seed() -> tuple[bytes, str]:
    """A secret seed and its public commitment (lowercase hex SHA-256)."""
    seed = secrets.token_bytes(SEED_BYTES)
    return seed, hashlib.sha256(seed).hexdigest()


def rank_key(seed: bytes, entry_id: str) -> str:
    """An entry's place in the draw: HMAC-SHA256(key = seed, msg = entry_id), lowercase hex."""
    return hmac.new(seed, entry_id.encode(), hashlib.sha256).hexdigest()


def pads(seed: bytes) -> tuple[bytes, bytes]:
    """HMAC's inner and outer padded keys (RFC 2104), so PostgreSQL can rank with sha256()."""
    key = seed.ljust(64, b"\0")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


@dataclass(frozen=True)
class Entry:
    batch_id: int
    entry_id: str
    entered_at: datetime
    status: str
    new: bool


async def enter(db: Database, batch_id: int, *, sub: str, person: str, now: datetime) -> Entry:
    """The person's entry in a lottery batch (new, or the one it already has)."""
    async with db.transaction() as tx:
        batch = await tx.fetchrow("lottery_batch_for_entry", batch_id=batch_id)
        if batch is None:
            raise DomainError(ErrorCode.NOT_FOUND, "batch not found")
        if batch["mode"] != LOTTERY:
            raise DomainError(
                ErrorCode.NOT_LOTTERY, "this batch is first come, first served: claim it instead"
            )
        resident_id, person = await persons.bind(tx, sub, token_person=person)
        await persons.refuse_if_suspended(tx, person)
        existing = await tx.fetchrow("person_entry", batch_id=batch_id, person=person)
        if existing is not None:
            return Entry(**dict(existing), new=False)
        refusal = _registration_refusal(batch, now)
        if refusal is not None:
            raise refusal
        row = await tx.fetchrow(
            "insert_entry",
            entry_id=secrets.token_hex(16),
            batch_id=batch_id,
            person=person,
            resident_id=resident_id,
            now=now,
        )
        if row is None:  # another account of the person entered at the same moment
            row = await tx.fetchrow("person_entry", batch_id=batch_id, person=person)
            assert row is not None
            return Entry(**dict(row), new=False)
        return Entry(**dict(row), new=True)


async def enter_many(
    db: Database, batch_id: int, *, people: list[tuple[str, str]], now: datetime
) -> int:
    """Many (sub, person) entries at once, by the same rules as `enter` (the window, one
    entry per person, none for a suspended person): how the demo fills its lotteries.
    Returns how many entries were made."""
    async with db.transaction() as tx:
        batch = await tx.fetchrow("lottery_batch_for_entry", batch_id=batch_id)
        if batch is None or batch["mode"] != LOTTERY:
            raise DomainError(ErrorCode.NOT_LOTTERY, "not a lottery batch")
        refusal = _registration_refusal(batch, now)
        if refusal is not None:
            raise refusal
        # A statement of its own, so the next sees residents another transaction created.
        await tx.execute(
            "ensure_residents",
            subs=[sub for sub, _ in people],
            persons=[person for _, person in people],
        )
        status = await tx.execute(
            "insert_entries",
            batch_id=batch_id,
            subs=[sub for sub, _ in people],
            persons=[person for _, person in people],
            entry_ids=[secrets.token_hex(16) for _ in people],
            now=now,
        )
        return int(status.split()[-1])


def _registration_refusal(batch: asyncpg.Record, now: datetime) -> DomainError | None:
    if batch["drawn_at"] is not None or now >= batch["claim_ends_at"]:
        return DomainError(ErrorCode.CLOSED, "registration for this lottery has ended")
    if now < batch["claim_starts_at"]:
        return DomainError(
            ErrorCode.NOT_OPEN,
            "registration for this lottery has not started",
            {"claim_starts_at": batch["claim_starts_at"].isoformat()},
        )
    if batch["paused"]:
        return DomainError(ErrorCode.NOT_OPEN, "registration for this lottery is paused")
    return None


async def entries_of(db: Database, person: str) -> list[asyncpg.Record]:
    """A person's entries, newest first."""
    return await db.fetch("person_entries", person=person)


@dataclass(frozen=True)
class Drawn:
    batch_id: int
    entries: int
    winners: int


async def draw(
    ctx: Context,
    batch_id: int,
) -> Drawn:
    """The bureau's "draw now": only once draw_at has passed, and only once."""
    async with ctx.db.transaction() as tx:
        batch = await tx.fetchrow("lock_lottery_batch", batch_id=batch_id)
        if batch is None:
            raise DomainError(ErrorCode.NOT_FOUND, "batch not found")
        if batch["mode"] != LOTTERY:
            raise DomainError(ErrorCode.NOT_LOTTERY, "this batch is not a lottery")
        if batch["drawn_at"] is not None:
            raise DomainError(
                ErrorCode.ALREADY_DRAWN,
                "this lottery has been drawn",
                {"drawn_at": batch["drawn_at"].isoformat()},
            )
        if ctx.now < batch["draw_at"]:
            raise DomainError(
                ErrorCode.NOT_OPEN,
                "the draw is not due yet",
                {"draw_at": batch["draw_at"].isoformat()},
            )
        drawn = await _draw_locked(tx, batch, now=ctx.now, tz=ctx.tz)
        await audit.append(
            tx,
            actor=ctx.actor,
            action="lottery.draw",
            target=f"batches/{batch_id}",
            before={"entries": drawn.entries, "drawn_at": None},
            after={"entries": drawn.entries, "winners": drawn.winners, "drawn_at": ctx.now},
            now=ctx.now,
        )
        return drawn


async def draw_due(tx: Conn, now: datetime, *, tz: Any) -> int:
    """The lottery_draw job: every lottery batch whose draw is due (and not being drawn right
    now by someone else), in this transaction. Returns the vouchers issued."""
    issued = 0
    for row in await tx.fetch("due_draws", now=now):
        batch = await tx.fetchrow("lock_lottery_batch", batch_id=row["id"])
        assert batch is not None
        issued += (await _draw_locked(tx, batch, now=now, tz=tz)).winners
    return issued


async def _draw_locked(tx: Conn, batch: asyncpg.Record, *, now: datetime, tz: Any) -> Drawn:
    """The draw, and each entrant's result message (in the same transaction: a draw rolled
    back queues nothing, a draw committed has queued them all)."""
    offered = batch["quantity"] - batch["claimed"]
    winners = min(offered, batch["entries"])
    inner, outer = pads(bytes(batch["seed"]))
    row = await tx.fetchrow(
        "draw_lottery",
        batch_id=batch["id"],
        inner_pad=inner,
        outer_pad=outer,
        codes=[new_code() for _ in range(winners)],
        per_resident_limit=batch["per_resident_limit"],
        now=now,
        expires_at=expiry(batch, now),
        offered=offered,
    )
    assert row is not None and row["winners"] == winners, (row, winners)
    await messages.enqueue_lottery_results(
        tx,
        batch["id"],
        title=batch["title"],
        expires_at=expiry(batch, now),
        now=now,
        tz=tz,
    )
    return Drawn(batch["id"], row["entries"], row["winners"])


async def record(db: Database, batch_id: int) -> asyncpg.Record:
    row = await db.fetchrow("draw_record", batch_id=batch_id)
    if row is None or row["mode"] != LOTTERY:
        raise DomainError(ErrorCode.NOT_FOUND, "no lottery batch with this id")
    return row


def verify_record(record: dict[str, Any]) -> list[str]:
    """What is wrong with a public draw record (empty: it checks out). Anyone can run this:
    the seed matches the commitment published at creation, the entry ids are in the order
    HMAC-SHA256(seed, entry_id) gives, and the winners are the first `drawn_quantity` (or all
    entries, if fewer)."""
    problems: list[str] = []
    if record.get("status") != "drawn":
        return ["the lottery has not been drawn yet"]
    try:
        seed = bytes.fromhex(record["seed"])
    except (TypeError, ValueError):
        return ["the seed is not hex"]
    if hashlib.sha256(seed).hexdigest() != record["seed_commitment"]:
        problems.append("the seed does not match the commitment published at creation")
    entry_ids: list[str] = record["entry_ids"]
    if len(set(entry_ids)) != len(entry_ids) or len(entry_ids) != record["entries"]:
        problems.append("the entry list has repeats or does not match the number of entries")
    ranked = sorted(entry_ids, key=lambda e: (rank_key(seed, e), e))
    if ranked != entry_ids:
        first = next(i for i, (a, b) in enumerate(zip(ranked, entry_ids, strict=True)) if a != b)
        problems.append(
            f"the ranking differs from HMAC-SHA256(seed, entry_id) at place {first + 1}"
        )
    expected = ranked[: min(record["drawn_quantity"], len(ranked))]
    if record["winner_entry_ids"] != expected:
        problems.append(f"the winners are not the first {len(expected)} of the ranking")
    return problems
