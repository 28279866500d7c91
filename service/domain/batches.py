"""Batch (批次) administration and the public view of what is on offer."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import asyncpg

from service.db import Database
from service.domain.lottery import new_seed
from service.errors import DomainError, ErrorCode, not_found


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
        data = {"mode": "first_come", "draw_at": None} | data
        seed, commitment = new_seed() if data["mode"] == "lottery" else (None, None)
        given = {f.name: data[f.name] for f in fields(cls) if f.name in data}
        given |= {"title": data["title"].strip(), "seed": seed, "seed_commitment": commitment}
        return cls(**given)


async def list_batches(
    db: Database, now: datetime, category: str | None, status: str | None
) -> list[asyncpg.Record]:
    return await db.fetch("list_batches", now=now, category=category, status=status)


async def get_batch(db: Database, batch_id: int, now: datetime) -> asyncpg.Record:
    row = await db.fetchrow("get_batch", batch_id=batch_id, now=now)
    if row is None:
        raise not_found("batch")
    return row


async def create_batch(db: Database, data: dict[str, Any], now: datetime) -> asyncpg.Record:
    merchant_ids: list[int] = data["merchant_ids"]
    async with db.transaction() as tx:
        if merchant_ids:
            found = {
                r["id"]: r["category"]
                for r in await tx.fetch("merchant_categories", merchant_ids=merchant_ids)
            }
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
        batch_id = await tx.fetchval("insert_batch", **vars(NewBatch.of(data)))
        if merchant_ids:
            await tx.execute("insert_batch_merchants", batch_id=batch_id, merchant_ids=merchant_ids)
        row = await tx.fetchrow("get_batch", batch_id=batch_id, now=now)
    assert row is not None
    return row


async def update_batch(
    db: Database, batch_id: int, data: dict[str, Any], now: datetime
) -> asyncpg.Record:
    async with db.transaction() as tx:
        # The batch row lock orders this change after claims in flight, so the check
        # against what is already claimed cannot race.
        current = await tx.fetchrow("lock_batch", batch_id=batch_id)
        if current is None:
            raise not_found("batch")
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
        await tx.execute(
            "update_batch",
            batch_id=batch_id,
            quantity=quantity,
            claim_ends_at=ends,
            paused=data.get("paused"),
        )
        row = await tx.fetchrow("get_batch", batch_id=batch_id, now=now)
    assert row is not None
    return row
