"""Every scheduled job: its name, when it is due (cron, festival time zone), what it does."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from jobs import expiry, housekeeping, lottery, messages, recovery, risk, rollup, settlement
from jobs.context import RunContext
from service.db import Conn


@dataclass(frozen=True)
class JobSpec:
    name: str
    schedule: str  # crontab, in FESTIVAL_TZ
    description: str
    run: Callable[[Conn, RunContext], Awaitable[int]]
    # Daily jobs have one period per business day (the day before the due time) and catch up
    # every missed one; frequent jobs have one per due minute and only the latest matters.
    daily: bool
    # Missed days are run when the scheduler comes back; pruning needs only the latest.
    catch_up: bool = True
    # Runs only for a business day that is over (API.md, "Money ledger": a settlement of a
    # day still going would leave its later redemptions out).
    day_must_be_over: bool = False


JOBS: list[JobSpec] = [
    JobSpec(
        "daily_rollup",
        "5 0 * * *",
        "yesterday's numbers (and the two days before), after an expiry sweep",
        rollup.run_daily,
        daily=True,
    ),
    JobSpec(
        "settlement",
        "30 0 * * *",
        "yesterday's settlement lines per merchant",
        settlement.run,
        daily=True,
        day_must_be_over=True,
    ),
    JobSpec(
        "risk_scan",
        "40 0 * * *",
        "yesterday's cash-out (套现) flags: repeat pairs, threshold hugging, bursts, reversal churn",
        risk.run,
        daily=True,
    ),
    JobSpec(
        "recovery",
        "50 0 * * *",
        "recovery against comparison merchants: yesterday's and the festival to date's",
        recovery.run,
        daily=True,
    ),
    JobSpec(
        "intraday_refresh",
        "*/5 * * * *",
        "today's numbers and cash-out flags so far",
        risk.run_intraday,
        daily=False,
    ),
    JobSpec(
        "expiry_sweep",
        "2-59/5 * * * *",
        "mark vouchers past their expiry as expired",
        expiry.run,
        daily=False,
    ),
    JobSpec(
        "lottery_draw",
        "* * * * *",
        "draw every lottery batch whose draw time has passed (each once)",
        lottery.run,
        daily=False,
    ),
    JobSpec(
        "send_messages",
        "* * * * *",
        "queue the expiry reminders come due, then send the outbox's SMS (none 21:00–08:00)",
        messages.run,
        daily=False,
    ),
    JobSpec(
        "housekeeping",
        "15 3 * * *",
        "prune rate-limit windows, old idempotency keys and frequent jobs' records",
        housekeeping.run,
        daily=True,
        catch_up=False,
    ),
]
BY_NAME = {job.name: job for job in JOBS}
