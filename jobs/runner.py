"""Running a job's period exactly once, whatever the number of schedulers and API processes.

A run happens in one transaction. It takes the (job, period) advisory lock or, if another
process holds it, leaves that period to it; then waits its turn on the job's lock, skips the
period if it already succeeded, does the work and records success. Both locks are
transaction-scoped: safe behind PgBouncer and released if the process dies. A crash half-way rolls the work back and
leaves the period to be run again; a failure is recorded with its error and retried at the
job's next due time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

from jobs.context import RunContext
from jobs.registry import JOBS, JobSpec
from jobs.rollup import festival_days
from service.clock import Clock
from service.db import Conn, Database
from service.domain import ledger
from service.domain.messages import Delivery
from service.settings import RiskRules, Settings
from service.timefmt import business_day

log = logging.getLogger("festival.jobs")

LOCK_NAMESPACE = 0x4A4F4253  # "JOBS": first key of a job's lock (runs of a job take turns)
PERIOD_LOCK_NAMESPACE = 0x4A4F4250  # "JOBP": first key of a (job, period)'s lock
# A run waits at most this long for the job's previous run (e.g. a long backfill day).
LOCK_WAIT = "10min"
MAX_CATCH_UP_DAYS = 400

Outcome = Literal["succeeded", "already_done", "busy", "failed"]


@dataclass(frozen=True)
class RunResult:
    job: str
    period: str
    outcome: Outcome
    rows: int | None = None
    error: str | None = None


def daily_period(due: datetime, tz: Any) -> date:
    """A daily job due at `due` is for the business day before."""
    return business_day(due, tz) - timedelta(days=1)


def minute_period(due: datetime, tz: Any) -> str:
    return due.astimezone(tz).strftime("%Y-%m-%dT%H:%M")


def refuse_day_not_over(job: JobSpec, day: date, *, now: datetime, tz: Any) -> None:
    """An operator's run of a job that is only for days that are over (settlement), for a
    day that is not over by the festival's clock: day_not_over, before anything runs (the
    rule is the ledger's, which settlement itself applies too)."""
    if job.day_must_be_over:
        ledger.refuse_day_not_over(day, now, tz=tz)


class JobRunner:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        tz: Any,
        risk: RiskRules | None = None,
        baseline_year: int = Settings.baseline_year,
        delivery: Delivery | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.tz = tz
        self.risk = risk or RiskRules()
        self.baseline_year = baseline_year
        self.delivery = delivery

    async def run(self, job: JobSpec, period: str, day: date, *, force: bool = False) -> RunResult:
        started = self.clock.now()
        try:
            async with self.db.transaction() as tx:
                if not await tx.fetchval(
                    "job_try_period_lock",
                    namespace=PERIOD_LOCK_NAMESPACE,
                    job=job.name,
                    period=period,
                ):
                    return RunResult(job.name, period, "busy")
                await tx.raw.execute(f"SET LOCAL lock_timeout = '{LOCK_WAIT}'")
                await tx.execute("job_lock", namespace=LOCK_NAMESPACE, job=job.name)
                if (
                    not force
                    and await tx.fetchval("job_run_status", job=job.name, period=period)
                    == "succeeded"
                ):
                    return RunResult(job.name, period, "already_done")
                context = RunContext(
                    day=day,
                    now=started,
                    tz=self.tz,
                    risk=self.risk,
                    baseline_year=self.baseline_year,
                    real_now=self.clock.real_now(),
                    db=self.db,
                    clock=self.clock,
                    delivery=self.delivery,
                )
                rows = await job.run(tx, context)
                partly = "; ".join(context.failures)[:2000] or None
                await self._record(tx, job, period, started, rows=rows, error=partly)
        except Exception as exc:
            log.exception("job %s for %s failed", job.name, period)
            error = f"{type(exc).__name__}: {exc}"[:2000]
            try:
                await self._record(self.db, job, period, started, error=error)
            except Exception:
                log.exception("could not record the failure of %s for %s", job.name, period)
            return RunResult(job.name, period, "failed", error=error)
        if partly:
            log.error(
                "job %s for %s: %d rows, and failed in part: %s", job.name, period, rows, partly
            )
            return RunResult(job.name, period, "failed", rows=rows, error=partly)
        log.info("job %s for %s: %d rows", job.name, period, rows)
        return RunResult(job.name, period, "succeeded", rows=rows)

    async def _record(
        self,
        db: Conn | Database,
        job: JobSpec,
        period: str,
        started: datetime,
        *,
        rows: int | None = None,
        error: str | None = None,
    ) -> None:
        """The run's outcome: succeeded with its rows (in the run's own transaction), or
        failed with its error (after the rollback)."""
        await db.execute(
            "record_job_run",
            job=job.name,
            period=period,
            status="failed" if error else "succeeded",
            started_at=started,
            finished_at=self.clock.now(),
            rows=rows,
            error=error,
        )

    async def run_day(self, job: JobSpec, day: date, *, force: bool = False) -> RunResult:
        return await self.run(job, day.isoformat(), day, force=force)

    async def run_now(self, job: JobSpec, day: date | None = None) -> RunResult:
        """An operator's run (API or command line): runs even if that period already ran."""
        now = self.clock.now()
        if job.daily:
            return await self.run_day(job, day or daily_period(now, self.tz), force=True)
        return await self.run(
            job,
            f"manual {minute_period(now, self.tz)}",
            day or business_day(now, self.tz),
            force=True,
        )

    async def on_due(self, job: JobSpec, due: datetime) -> list[RunResult]:
        """What a scheduler does when `job` falls due at `due`."""
        if not job.daily:
            return [await self.run(job, minute_period(due, self.tz), business_day(due, self.tz))]
        if not job.catch_up:
            return [await self.run_day(job, daily_period(due, self.tz))]
        return await self.catch_up(job, due)

    async def catch_up(self, job: JobSpec, now: datetime) -> list[RunResult]:
        """Every festival day up to the day before `now` that has not succeeded yet, oldest
        first (so a scheduler that was down fills every missed day)."""
        yesterday = daily_period(now, self.tz)
        festival = await festival_days(self.db, self.tz)
        due = [d for d in festival.days() if d <= yesterday][-MAX_CATCH_UP_DAYS:]
        done = {r["period"] for r in await self.db.fetch("job_succeeded_periods", job=job.name)}
        results = []
        for day in due:
            if day.isoformat() not in done:
                result = await self.run_day(job, day)
                results.append(result)
                if result.outcome == "busy":
                    break  # another process is on it; it or the next due time goes on
        return results

    async def catch_up_all(self) -> list[RunResult]:
        results: list[RunResult] = []
        for job in JOBS:
            if job.daily and job.catch_up:
                results += await self.catch_up(job, self.clock.now())
        return results

    async def running(self) -> set[str]:
        rows = await self.db.fetch(
            "jobs_running", namespace=LOCK_NAMESPACE, jobs=[j.name for j in JOBS]
        )
        return {r["name"] for r in rows}

    async def last_runs(self) -> dict[str, Any]:
        """Each job's latest run (a record), by job name."""
        return {r["job"]: r for r in await self.db.fetch("jobs_last_runs")}
