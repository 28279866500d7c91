"""Reconciling what clients were answered with what the database holds (PERF/PITFALLS: every
201 matches a row and every row a 201)."""

from __future__ import annotations

import asyncpg


async def vouchers_by_resident(
    conn: asyncpg.Connection, batch_id: int | None = None
) -> dict[str, str]:
    """Each resident's voucher code (of one batch, or of all), by the resident's subject."""
    rows = await conn.fetch(
        "SELECT r.sub, v.code FROM vouchers v JOIN residents r ON r.id = v.resident_id"
        " WHERE $1::bigint IS NULL OR v.batch_id = $1",
        batch_id,
    )
    return {r["sub"]: r["code"] for r in rows}
