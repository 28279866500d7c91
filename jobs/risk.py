"""The risk_scan job: the cash-out rules over a business day (service/domain/risk.py)."""

from __future__ import annotations

from jobs import rollup
from jobs.context import RunContext
from service.db import Conn
from service.domain import risk


async def run(tx: Conn, ctx: RunContext) -> int:
    """Nightly: the day before, complete."""
    return await risk.scan(tx, ctx.day, ctx.now, ctx.risk)


async def run_intraday(tx: Conn, ctx: RunContext) -> int:
    """With the intraday refresh: today's numbers, then today's flags so far (the nightly scan
    completes them; a flag is never raised twice)."""
    rows = await rollup.run_intraday(tx, ctx)
    return rows + await risk.scan(tx, ctx.day, ctx.now, ctx.risk)
