"""The send_messages job: the day's expiry reminders once they are due, then the outbox
(service/domain/messages.py says how: leases, at least once, recorded once, quiet hours).

Its work commits piece by piece on the runner's database, outside the run's transaction
(which holds only the run's locks and record): a message recorded sent stays sent, and a
lease taken stays taken, should the run die after it."""

from __future__ import annotations

import logging

from jobs.context import RunContext
from service.db import Conn
from service.domain import messages

log = logging.getLogger("festival.jobs")


async def run(tx: Conn, ctx: RunContext) -> int:
    assert ctx.db is not None and ctx.clock is not None, "the runner gives its database"
    queued = await messages.queue_reminders(ctx.db, now=ctx.now, tz=ctx.tz)
    if ctx.delivery is None:
        log.info("send_messages: %d reminders queued; this runner sends nothing", queued)
        return queued
    sent = await messages.send_due(ctx.db, ctx.delivery, clock=ctx.clock, tz=ctx.tz)
    if sent.errors:
        # Recorded on the run (it shows failed in the jobs list); the messages wait to retry.
        ctx.failures.append(
            f"{len(sent.errors)} send attempts failed (retried with backoff, or failed after"
            f" {messages.MAX_ATTEMPTS}): {sent.errors[-1]}"
        )
    return queued + sent.rows
