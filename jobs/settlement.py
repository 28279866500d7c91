"""Settlement: per merchant per business day, the subsidy the government owes.

A line is written once and never rewritten. Redemptions are marked with the line that
settled them; one reversed after that is carried as a negative adjustment on the merchant's
next line.
"""

from __future__ import annotations

from jobs.context import RunContext
from service.db import Conn, rows_of
from service.timefmt import day_bounds


async def run(tx: Conn, ctx: RunContext) -> int:
    _, end = day_bounds(ctx.day, ctx.tz)
    return rows_of(await tx.execute("settle_day", day=ctx.day, day_end=end, now=ctx.now))
