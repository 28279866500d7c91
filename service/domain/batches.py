"""Batch (批次) administration and the public view of what is on offer."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from service.db import Database
from service.errors import DomainError, not_found
from service.timefmt import iso


def batch_json(row: asyncpg.Record, tz: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "category": row["category"],
        "title": row["title"],
        "face_value_fen": row["face_value_fen"],
        "min_spend_fen": row["min_spend_fen"],
        "quantity": row["quantity"],
        "remaining": row["remaining"],
        "per_resident_limit": row["per_resident_limit"],
        "claim_starts_at": iso(row["claim_starts_at"], tz),
        "claim_ends_at": iso(row["claim_ends_at"], tz),
        "valid_days": row["valid_days"],
        "valid_until": iso(row["valid_until"], tz),
        "status": row["status"],
        "paused": row["paused"],
        "merchant_ids": list(row["merchant_ids"]),
    }


async def get_batch(db: Database, batch_id: int, now: datetime) -> asyncpg.Record:
    row = await db.fetchrow("get_batch", batch_id, now)
    if row is None:
        raise not_found("batch")
    return row


async def create_batch(db: Database, data: dict[str, Any], now: datetime) -> asyncpg.Record:
    merchant_ids: list[int] = data["merchant_ids"]
    async with db.transaction() as tx:
        if merchant_ids:
            found = {
                r["id"]: r["category"] for r in await tx.fetch("merchant_categories", merchant_ids)
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
                    "invalid_request", "merchant_ids is not valid", {"merchant_ids": messages}
                )
        batch_id = await tx.fetchval(
            "insert_batch",
            data["category"],
            data["title"].strip(),
            data["face_value_fen"],
            data["min_spend_fen"],
            data["quantity"],
            data["per_resident_limit"],
            data["claim_starts_at"],
            data["claim_ends_at"],
            data["valid_days"],
            data["valid_until"],
        )
        if merchant_ids:
            await tx.execute("insert_batch_merchants", batch_id, merchant_ids)
        row = await tx.fetchrow("get_batch", batch_id, now)
    assert row is not None
    return row


async def update_batch(
    db: Database, batch_id: int, data: dict[str, Any], now: datetime
) -> asyncpg.Record:
    async with db.transaction() as tx:
        # The batch row lock orders this change after claims in flight, so the check
        # against what is already claimed cannot race.
        current = await tx.fetchrow("lock_batch", batch_id)
        if current is None:
            raise not_found("batch")
        quantity = data.get("quantity")
        if quantity is not None and quantity < current["claimed"]:
            raise DomainError(
                "invalid_request",
                "quantity cannot shrink below what is already claimed",
                {"quantity": [f"At least {current['claimed']} (already claimed)."]},
            )
        ends = data.get("claim_ends_at")
        if ends is not None and ends <= current["claim_starts_at"]:
            raise DomainError(
                "invalid_request",
                "claim_ends_at must be after claim_starts_at",
                {"claim_ends_at": ["Must be after claim_starts_at."]},
            )
        await tx.execute("update_batch", batch_id, quantity, ends, data.get("paused"))
        row = await tx.fetchrow("get_batch", batch_id, now)
    assert row is not None
    return row
