"""The lottery_draw job: every lottery batch whose draw_at has passed is drawn, once."""

from __future__ import annotations

from jobs.context import RunContext
from service.db import Conn
from service.domain import lottery


async def run(tx: Conn, ctx: RunContext) -> int:
    return await lottery.draw_due(tx, ctx.now, tz=ctx.tz)
