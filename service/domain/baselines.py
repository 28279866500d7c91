"""Baselines: the comparable pre-festival sales per (date, category), uploaded as CSV."""

from __future__ import annotations

from datetime import date

from service.domain import audit
from service.domain.context import Context


async def store(
    ctx: Context,
    rows: list[tuple[date, str, int]],
) -> int:
    keys = {"days": [r[0] for r in rows], "categories": [r[1] for r in rows]}
    async with ctx.db.transaction() as tx:
        before = await tx.fetchrow("baselines_summary", **keys)
        await tx.execute("upsert_baselines", **keys, sales=[r[2] for r in rows], now=ctx.now)
        after = await tx.fetchrow("baselines_summary", **keys)
        await audit.append(
            tx,
            actor=ctx.actor,
            action="baselines.upload",
            target="baselines",
            before=audit.snapshot(before),
            after=audit.snapshot(after, categories=sorted({r[1] for r in rows})),
            now=ctx.now,
        )
    return len(rows)
