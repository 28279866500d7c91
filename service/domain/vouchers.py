"""How a voucher is shown to its resident: status as of now, and the signed QR string."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from service.db import Database


async def wallet(
    db: Database, sub: str, *, now: datetime, status: str | None, limit: int
) -> list[asyncpg.Record]:
    """A resident's vouchers, newest first, with their status as of `now`."""
    return await db.fetch("resident_vouchers", sub=sub, now=now, status=status, limit=limit)


async def wallet_voucher(
    db: Database, sub: str, *, code: str, now: datetime
) -> asyncpg.Record | None:
    """One voucher of the resident's; None for anyone else's (no hint that it exists)."""
    return await db.fetchrow("resident_voucher", sub=sub, code=code, now=now)


async def wallet_vouchers(
    db: Database, sub: str, *, codes: list[str], now: datetime
) -> list[asyncpg.Record]:
    """The resident's vouchers among `codes`, with their status as of `now` (anyone else's
    are simply not there)."""
    return await db.fetch("resident_vouchers_by_code", sub=sub, codes=codes, now=now)
