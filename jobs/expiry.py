"""Expiry sweep: active vouchers past `expires_at` become `expired`, with their ledger events.

Reads already treat such vouchers as expired (see `voucher_status` in SQL); the sweep makes the
stored status and the ledger agree, so daily counts of expiries are right.
"""

from __future__ import annotations

from datetime import datetime

from jobs.context import RunContext
from service.db import Conn, rows_of


async def sweep(tx: Conn, now: datetime) -> int:
    return rows_of(await tx.execute("expire_vouchers", now=now))


async def run(tx: Conn, ctx: RunContext) -> int:
    return await sweep(tx, ctx.now)
