"""Settlement: each business day that is over, every merchant's unsettled money (that day's
completed redemptions, and any straggler of an earlier day) moves to payable in the ledger,
once per (merchant, day). What is paid out is the payable balance (service/domain/payments.py).
"""

from __future__ import annotations

from jobs.context import RunContext
from service.db import Conn
from service.domain import ledger


async def run(tx: Conn, ctx: RunContext) -> int:
    return await ledger.settle(tx, ctx.day, now=ctx.now, tz=ctx.tz)
