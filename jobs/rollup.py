"""The bureau's daily numbers: per (day, category) and per (day, merchant), recomputed from
the raw rows with set-based SQL and upserted, so running a day again is always safe."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from jobs import expiry
from jobs.context import RunContext, rows_of
from service.db import Conn, Database
from service.timefmt import business_day, day_bounds

# The nightly rollup also recomputes the days before, so late changes land.
RECOMPUTED_DAYS = 2


async def rollup_day(tx: Conn, day: date, now: datetime, tz: Any) -> int:
    start, end = day_bounds(day, tz)
    rows = rows_of(await tx.execute("rollup_day_categories", day, start, end, now))
    return rows + rows_of(await tx.execute("rollup_day_merchants", day, now))


async def festival_days(db: Conn | Database, tz: Any) -> tuple[date, date] | None:
    """The business days on which anything can happen, or None before any batch exists."""
    span = await db.fetchrow("festival_span")
    if span is None or span["first"] is None:
        return None
    return business_day(span["first"], tz), business_day(span["last"], tz)


async def run_daily(tx: Conn, ctx: RunContext) -> int:
    """The day before (the period) and the two days before it, after sweeping expiries."""
    rows = await expiry.sweep(tx, ctx.now)
    span = await festival_days(tx, ctx.tz)
    if span is None:
        return rows
    for back in range(RECOMPUTED_DAYS, -1, -1):
        day = ctx.day - timedelta(days=back)
        if span[0] <= day <= span[1]:
            rows += await rollup_day(tx, day, ctx.now, ctx.tz)
    return rows


async def run_intraday(tx: Conn, ctx: RunContext) -> int:
    """Today so far, so the summary is never more than one refresh behind."""
    rows = await expiry.sweep(tx, ctx.now)
    span = await festival_days(tx, ctx.tz)
    if span is None or not span[0] <= ctx.day <= span[1]:
        return rows
    return rows + await rollup_day(tx, ctx.day, ctx.now, ctx.tz)
