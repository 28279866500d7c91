"""The recovery job: the festival-to-date estimate per category, kept for /stats/summary
(service/domain/recovery.py computes it; /stats/recovery computes any range live)."""

from __future__ import annotations

from jobs.context import RunContext
from service.db import Conn
from service.domain import recovery


async def run(tx: Conn, ctx: RunContext) -> int:
    first, last = await recovery.span(tx, ctx.baseline_year, until=ctx.day)
    if first is None or last is None or ctx.day < first:
        return 0
    # The festival's days with data up to the run's day (a merchant's report of a day far
    # from the festival never stretches it).
    first, last = await recovery.default_range(
        tx, ctx.baseline_year, tz=ctx.tz, yesterday=ctx.day, given_to=min(last, ctx.day)
    )
    # Only the totals are read (no day's items: nothing asked for them, and each is a bootstrap).
    found = await recovery.compute(
        tx, first, last=last, category=None, baseline_year=ctx.baseline_year, item_days=set()
    )
    span = {"from": first.isoformat(), "to": last.isoformat()}
    await recovery.store_totals(tx, found.totals, span=span, now=ctx.now)
    return len(found.totals)
