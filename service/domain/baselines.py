"""Baselines: the comparable pre-festival sales per (date, category), uploaded as CSV."""

from __future__ import annotations

from datetime import date, datetime

from service.db import Database
from service.domain import audit


async def store(
    db: Database, rows: list[tuple[date, str, int]], actor: audit.Actor, now: datetime
) -> int:
    keys = {"days": [r[0] for r in rows], "categories": [r[1] for r in rows]}
    async with db.transaction() as tx:
        before = await tx.fetchrow("baselines_summary", **keys)
        await tx.execute("upsert_baselines", **keys, sales=[r[2] for r in rows], now=now)
        after = await tx.fetchrow("baselines_summary", **keys)
        await audit.append(
            tx,
            actor,
            "baselines.upload",
            "baselines",
            audit.snapshot(before),
            audit.snapshot(after, categories=sorted({r[1] for r in rows})),
            now,
        )
    return len(rows)
