"""Batch (批次) administration and the public view of what is on offer."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import Any

import asyncpg

from service.db import Conn, Database
from service.domain import audit, budget, merchants
from service.domain.context import Context
from service.domain.lottery import new_seed
from service.errors import DomainError, ErrorCode, not_found
from service.timefmt import business_day
from service.vocabulary import FIRST_COME, LOTTERY


@dataclass(frozen=True)
class NewBatch:
    """A batch as `insert_batch` writes it (its fields are the query's parameters)."""

    category: str
    title: str
    face_value_fen: int
    min_spend_fen: int
    quantity: int
    per_resident_limit: int
    claim_starts_at: datetime
    claim_ends_at: datetime
    valid_days: int
    valid_until: datetime | None
    mode: str
    draw_at: datetime | None
    seed: bytes | None
    seed_commitment: str | None

    @classmethod
    def of(cls, data: dict[str, Any]) -> NewBatch:
        # A lottery's secret seed is drawn now; only its commitment is ever shown before the draw.
        data = {"mode": FIRST_COME, "draw_at": None} | data
        seed, commitment = new_seed() if data["mode"] == LOTTERY else (None, None)
        given = {f.name: data[f.name] for f in fields(cls) if f.name in data}
        given |= {"title": data["title"].strip(), "seed": seed, "seed_commitment": commitment}
        return cls(**given)


async def activity_windows(db: Conn | Database, tz: Any) -> list[tuple[date, date]]:
    """Per batch, in order, the first and last business days anything can happen with it:
    its claim window's start, and the last day one of its vouchers can be redeemed or expire."""
    return sorted(
        (business_day(r["first"], tz), business_day(r["last"], tz))
        for r in await db.fetch("batch_activity_windows")
    )


async def list_batches(
    db: Database, now: datetime, *, category: str | None, status: str | None
) -> list[asyncpg.Record]:
    return await db.fetch("list_batches", now=now, category=category, status=status)


async def get_batch(db: Database, batch_id: int, *, now: datetime) -> asyncpg.Record:
    row = await db.fetchrow("get_batch", batch_id=batch_id, now=now)
    if row is None:
        raise not_found("batch")
    return row


async def create_batch(
    ctx: Context,
    data: dict[str, Any],
) -> asyncpg.Record:
    merchant_ids: list[int] = data["merchant_ids"]
    async with ctx.db.transaction() as tx:
        if merchant_ids:
            found = await merchants.categories_of(tx, merchant_ids)
            unknown = [m for m in merchant_ids if m not in found]
            other = [m for m in merchant_ids if m in found and found[m] != data["category"]]
            if unknown or other:
                messages = []
                if unknown:
                    messages.append(f"unknown merchants: {unknown}")
                if other:
                    messages.append(f"merchants of another category: {other}")
                raise DomainError(
                    ErrorCode.INVALID_REQUEST,
                    "merchant_ids is not valid",
                    {"merchant_ids": messages},
                )
        new = NewBatch.of(data)
        stock = (
            new.quantity if _committed(new.mode, None, ends=new.claim_ends_at, now=ctx.now) else 0
        )
        await budget.reserve(tx, new.category, extra_fen=new.face_value_fen * stock, now=ctx.now)
        batch_id = await tx.fetchval("insert_batch", **vars(new))
        if merchant_ids:
            await tx.execute("insert_batch_merchants", batch_id=batch_id, merchant_ids=merchant_ids)
        row = await tx.fetchrow("get_batch", batch_id=batch_id, now=ctx.now)
        assert row is not None
        await audit.append(
            tx,
            actor=ctx.actor,
            action="batch.create",
            target=f"batches/{batch_id}",
            before=None,
            after=audit.snapshot(row),
            now=ctx.now,
        )
    return row


def _committed(mode: str, drawn_at: datetime | None, *, ends: datetime, now: datetime) -> bool:
    """Whether a batch's unclaimed stock counts against the budget (API.md, "Budget")."""
    return drawn_at is None if mode == LOTTERY else now < ends


def _unclaimed_committed(
    batch: asyncpg.Record, quantity: int, *, ends: datetime, now: datetime
) -> int:
    if not _committed(batch["mode"], batch["drawn_at"], ends=ends, now=now):
        return 0
    return int(batch["face_value_fen"]) * (quantity - batch["claimed"])


async def update_batch(
    ctx: Context,
    batch_id: int,
    *,
    data: dict[str, Any],
) -> asyncpg.Record:
    async with ctx.db.transaction() as tx:
        # The batch row lock orders this change after claims in flight, so the check
        # against what is already claimed cannot race.
        current = await tx.fetchrow("lock_batch", batch_id=batch_id)
        if current is None:
            raise not_found("batch")
        shown_before = await tx.fetchrow("get_batch", batch_id=batch_id, now=ctx.now)
        quantity = data.get("quantity")
        if quantity is not None and quantity < current["claimed"]:
            raise DomainError(
                ErrorCode.INVALID_REQUEST,
                "quantity cannot shrink below what is already claimed",
                {"quantity": [f"At least {current['claimed']} (already claimed)."]},
            )
        ends = data.get("claim_ends_at")
        if ends is not None and ends <= current["claim_starts_at"]:
            raise DomainError(
                ErrorCode.INVALID_REQUEST,
                "claim_ends_at must be after claim_starts_at",
                {"claim_ends_at": ["Must be after claim_starts_at."]},
            )
        # Growing the stock, or reopening a closed window, commits budget again.
        before = _unclaimed_committed(
            current, current["quantity"], ends=current["claim_ends_at"], now=ctx.now
        )
        after = _unclaimed_committed(
            current,
            current["quantity"] if quantity is None else quantity,
            ends=current["claim_ends_at"] if ends is None else ends,
            now=ctx.now,
        )
        await budget.reserve(tx, current["category"], extra_fen=after - before, now=ctx.now)
        await tx.execute(
            "update_batch",
            batch_id=batch_id,
            quantity=quantity,
            claim_ends_at=ends,
            paused=data.get("paused"),
        )
        row = await tx.fetchrow("get_batch", batch_id=batch_id, now=ctx.now)
        assert row is not None
        await audit.append(
            tx,
            actor=ctx.actor,
            action="batch.update",
            target=f"batches/{batch_id}",
            before=audit.snapshot(shown_before),
            after=audit.snapshot(row),
            now=ctx.now,
        )
    return row


async def recycle(
    ctx: Context,
    source_id: int,
    *,
    target_id: int,
) -> dict[str, int]:
    """A closed batch's unclaimed stock and its vouchers that expired unused, moved into a
    later batch of the same category and face value, exactly once (API.md, "Recycling")."""
    if source_id == target_id:
        raise _cannot_recycle("into_batch_id", "A batch cannot be recycled into itself.")
    async with ctx.db.transaction() as tx:
        rows = {
            r["id"]: r for r in await tx.fetch("lock_batches", batch_ids=[source_id, target_id])
        }
        if source_id not in rows or target_id not in rows:
            raise not_found("batch")
        source, target = rows[source_id], rows[target_id]
        if _committed(
            source["mode"], source["drawn_at"], ends=source["claim_ends_at"], now=ctx.now
        ):
            raise _cannot_recycle("batch", "Its claim window (or draw) is not over yet.")
        if (source["category"], source["face_value_fen"]) != (
            target["category"],
            target["face_value_fen"],
        ):
            raise _cannot_recycle("into_batch_id", "Must be of the same category and face value.")
        if not _committed(
            target["mode"], target["drawn_at"], ends=target["claim_ends_at"], now=ctx.now
        ):
            raise _cannot_recycle("into_batch_id", "Its claim window (or draw) is over.")
        unclaimed = source["quantity"] - source["claimed"]
        expired = await tx.fetchval("recyclable_expired", batch_id=source_id, now=ctx.now)
        moved = unclaimed + expired
        if moved == 0:
            raise DomainError(
                ErrorCode.CONFLICT,
                "nothing left to recycle: the batch's stock was claimed or already recycled",
                {"batch_id": source_id},
            )
        await budget.reserve(
            tx, target["category"], extra_fen=target["face_value_fen"] * moved, now=ctx.now
        )
        await tx.execute(
            "recycle",
            source_id=source_id,
            target_id=target_id,
            moved=moved,
            unclaimed=unclaimed,
            expired=expired,
            now=ctx.now,
        )
        moved_ = {"moved": moved, "unclaimed": unclaimed, "expired": expired}
        await audit.append(
            tx,
            actor=ctx.actor,
            action="batch.recycle",
            target=f"batches/{source_id}",
            before={"quantity": source["quantity"], "claimed": source["claimed"]},
            after={**moved_, "into_batch_id": target_id},
            now=ctx.now,
        )
    return moved_


def _cannot_recycle(field: str, reason: str) -> DomainError:
    return DomainError(
        ErrorCode.INVALID_REQUEST, "this batch cannot be recycled so", {field: [reason]}
    )
