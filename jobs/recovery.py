"""The recovery job: the festival-to-date estimate and the day's, kept for the dashboard and
the bulletin (service/domain/recovery.py computes them; the API computes any range live)."""

from __future__ import annotations

import json

from jobs.context import RunContext
from service.db import Conn
from service.domain import recovery


async def run(tx: Conn, ctx: RunContext) -> int:
    first, last = await recovery.span(tx, ctx.baseline_year)
    if first is None or last is None or ctx.day < first:
        return 0
    last = min(last, ctx.day)
    found = await recovery.compute(tx, first, last, None, ctx.baseline_year, item_days={ctx.day})
    rows = [r for r in found.items if r["date"] == ctx.day] + found.totals
    for row in rows:
        figures = {k: v for k, v in row.items() if k not in ("date", "category")}
        await tx.execute(
            "store_recovery",
            day=row["date"],
            category=row["category"],
            figures=json.dumps({**figures, "from": first.isoformat(), "to": last.isoformat()}),
            now=ctx.now,
        )
    return len(rows)
