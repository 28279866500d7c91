"""The bureau's numbers, read from the tables the scheduled jobs maintain."""

from __future__ import annotations

from datetime import date

import asyncpg

from service.db import Database


async def known_days(db: Database) -> tuple[date | None, date | None]:
    """The first and last day the rollup has computed (None, None before any)."""
    row = await db.fetchrow("stats_date_range")
    assert row is not None
    return row["first"], row["last"]


async def daily_rows(
    db: Database, from_day: date, *, to_day: date, category: str | None
) -> list[asyncpg.Record]:
    return await db.fetch("stats_daily_rows", from_day=from_day, to_day=to_day, category=category)


async def summary_rows(db: Database) -> list[asyncpg.Record]:
    return await db.fetch("stats_summary")


async def merchant_rows(db: Database, day: date, *, category: str | None) -> list[asyncpg.Record]:
    return await db.fetch("stats_merchant_rows", day=day, category=category)
