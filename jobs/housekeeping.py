"""Pruning what only needs to live for a while: rate-limit windows, idempotency keys (kept a
week, well past the 24 hours a retrying checkout needs), frequent jobs' run records."""

from __future__ import annotations

from datetime import timedelta

from jobs.context import RunContext
from service.db import Conn, rows_of
from service.domain import rate_limits

IDEMPOTENCY_KEEP = timedelta(days=7)
FREQUENT_RUNS_KEEP = timedelta(days=3)
FREQUENT_JOBS = ["intraday_refresh", "expiry_sweep", "lottery_draw", "send_messages"]


async def run(tx: Conn, ctx: RunContext) -> int:
    # Rate-limit windows are in real time (a drill's jumps must not prune live ones).
    rows = await rate_limits.prune(tx, ctx.real_now or ctx.now)
    rows += rows_of(await tx.execute("prune_idempotency_keys", before=ctx.now - IDEMPOTENCY_KEEP))
    rows += rows_of(
        await tx.execute(
            "prune_frequent_job_runs", before=ctx.now - FREQUENT_RUNS_KEEP, jobs=FREQUENT_JOBS
        )
    )
    return rows
