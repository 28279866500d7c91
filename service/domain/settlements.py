"""Settlement lines: what the government owes each merchant (written by jobs/settlement.py)."""

from __future__ import annotations

from datetime import date

import asyncpg

from service.db import Database


async def lines_on_day(db: Database, day: date) -> list[asyncpg.Record]:
    """A day's settled lines, and a pending line per merchant that no line holds yet."""
    return await db.fetch("settlement_lines_on_day", day=day)


async def merchant_lines(
    db: Database, merchant_id: int, *, from_day: date, to_day: date
) -> list[asyncpg.Record]:
    return await db.fetch(
        "merchant_settlement_lines", merchant_id=merchant_id, from_day=from_day, to_day=to_day
    )
