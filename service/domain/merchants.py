"""Merchant administration: creation with a one-time api key, listing, suspension."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from service.auth import hash_api_key, new_api_key
from service.db import Conn, Database
from service.domain import audit
from service.domain.context import Context
from service.errors import not_found


@asynccontextmanager
async def _within(ctx: Context, tx: Conn | None) -> AsyncIterator[Conn]:
    """The caller's transaction when it gives one, else a transaction of its own."""
    if tx is not None:
        yield tx
        return
    async with ctx.db.transaction() as own:
        yield own


async def create_merchant(
    ctx: Context,
    data: dict[str, Any],
    *,
    tx: Conn | None = None,
) -> tuple[asyncpg.Record, str]:
    """The new merchant and its api key, which exists in clear only in this answer. In the
    caller's transaction `tx` when given (an approved application: the decision and the
    merchant commit together)."""
    api_key = new_api_key()
    async with _within(ctx, tx) as conn:
        row = await conn.fetchrow(
            "insert_merchant",
            name=data["name"].strip(),
            category=data["category"],
            credit_code=data["credit_code"],
            district=data["district"].strip(),
            address=data["address"].strip(),
            contact_phone=data["contact_phone"],
            api_key_hash=hash_api_key(api_key),
            daily_subsidy_cap_fen=data.get("daily_subsidy_cap_fen"),
            account_name=data.get("account_name"),
            account_no=data.get("account_no"),
            street=data.get("street"),
            lat=data.get("lat"),
            lng=data.get("lng"),
            hours=data.get("hours"),
        )
        assert row is not None
        await audit.append_row_change(
            conn,
            ctx,
            action="merchant.create",
            target=f"merchants/{row['id']}",
            before=None,
            after=row,
        )
    return row, api_key


async def list_merchants(
    db: Database, category: str | None, *, status: str | None
) -> list[asyncpg.Record]:
    return await db.fetch("list_merchants", category=category, status=status)


async def categories_of(tx: Conn | Database, merchant_ids: list[int]) -> dict[int, str]:
    """The category of each of these merchants that exists."""
    return {
        r["id"]: r["category"]
        for r in await tx.fetch("merchant_categories", merchant_ids=merchant_ids)
    }


async def get_merchant(db: Database, merchant_id: int) -> asyncpg.Record:
    row = await db.fetchrow("get_merchant", merchant_id=merchant_id)
    if row is None:
        raise not_found("merchant")
    return row


async def update_merchant(
    ctx: Context,
    merchant_id: int,
    *,
    data: dict[str, Any],
) -> asyncpg.Record:
    async with ctx.db.transaction() as tx:
        before = await tx.fetchrow("lock_merchant", merchant_id=merchant_id)
        if before is None:
            raise not_found("merchant")
        row = await tx.fetchrow(
            "update_merchant",
            merchant_id=merchant_id,
            status=data.get("status"),
            name=data.get("name"),
            district=data.get("district"),
            address=data.get("address"),
            contact_phone=data.get("contact_phone"),
            cap_given="daily_subsidy_cap_fen" in data,
            cap=data.get("daily_subsidy_cap_fen"),
            account_name=data.get("account_name"),
            account_no=data.get("account_no"),
            street=data.get("street"),
            position_given="lat" in data,
            lat=data.get("lat"),
            lng=data.get("lng"),
            hours_given="hours" in data,
            hours=data.get("hours"),
        )
        assert row is not None
        await audit.append_row_change(
            tx,
            ctx,
            action="merchant.update",
            target=f"merchants/{merchant_id}",
            before=before,
            after=row,
        )
    return row


async def reissue_api_key(tx: Conn, ctx: Context, *, merchant_id: int, phone: str) -> str | None:
    """A fresh owner api key for the merchant whose contact phone is `phone` (shown once; the
    old one stops working), in the caller's transaction, on the audit trail without either
    key. None when there is no such merchant or the phone is not its contact phone."""
    before = await tx.fetchrow("lock_merchant", merchant_id=merchant_id)
    if before is None or before["contact_phone"] != phone:
        return None
    api_key = new_api_key()
    await tx.execute("replace_api_key", merchant_id=merchant_id, api_key_hash=hash_api_key(api_key))
    await audit.append(
        tx,
        actor=ctx.actor,
        action="merchant.api_key_reissued",
        target=f"merchants/{merchant_id}",
        before=None,
        after={"by": "sms code to the contact phone"},
        now=ctx.now,
    )
    return api_key
