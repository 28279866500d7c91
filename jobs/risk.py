"""The risk_scan job: the cash-out rules over a business day (service/domain/risk.py)."""

from __future__ import annotations

from jobs import expiry, rollup
from jobs.context import RunContext
from service.db import Conn
from service.domain import risk
from service.timefmt import business_day


async def _scan(tx: Conn, ctx: RunContext) -> int:
    # A day that is over is scanned whole (ratio flags decided); today, so far (provisional).
    full_day = ctx.day < business_day(ctx.now, ctx.tz)
    scanned = await risk.scan(tx, ctx.day, now=ctx.now, rules=ctx.risk, full_day=full_day)
    ctx.failures.extend(scanned.failures)
    return scanned.flags


async def run(tx: Conn, ctx: RunContext) -> int:
    """Nightly: the day before, complete."""
    return await _scan(tx, ctx)


async def run_intraday(tx: Conn, ctx: RunContext) -> int:
    """The intraday refresh: vouchers past their expiry swept; then, on a festival day only,
    today's numbers so far (the summary is never more than one refresh behind) and today's
    flags so far (the nightly scan completes them; a flag is never raised twice)."""
    rows = await expiry.sweep(tx, ctx.now)
    if ctx.day not in await rollup.festival_days(tx, ctx.tz):
        return rows
    rows += await rollup.rollup_day(tx, ctx.day, now=ctx.now, tz=ctx.tz)
    return rows + await _scan(tx, ctx)
