"""`festival scheduler` and `festival jobs …`: the scheduled jobs from the command line."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from typing import TypeVar

from jobs.registry import BY_NAME, JOBS, JobSpec
from jobs.runner import JobRunner, RunResult, refuse_day_not_over
from jobs.scheduler import next_run_at, scheduler_for
from service.db import open_database
from service.domain import audit, drill
from service.domain.context import Context
from service.processes import until_stopped
from service.progress import progress
from service.settings import Settings

T = TypeVar("T")


async def with_runner(settings: Settings, work: Callable[[JobRunner], Awaitable[T]]) -> T:
    # In a drill, one more connection: the drill clock's follower must not wait behind runs.
    async with open_database(settings, min_size=1, max_size=3 if settings.drill else 2) as db:
        clock = await drill.clock_for(db, settings.drill)
        runner = JobRunner(
            db, clock, tz=settings.tz, risk=settings.risk, baseline_year=settings.baseline_year
        )
        return await work(runner)


def job_named(name: str) -> JobSpec:
    if name not in BY_NAME:
        raise SystemExit(f"no job named {name!r}; jobs: {', '.join(BY_NAME)}")
    return BY_NAME[name]


async def run_scheduler(settings: Settings) -> None:
    """The jobs alone, until SIGTERM or Ctrl-C."""

    async def forever(runner: JobRunner) -> None:
        async with drill.following(runner.db, runner.clock):
            scheduler = scheduler_for(runner)
            scheduler.start()
            try:
                await until_stopped()
            finally:
                await scheduler.stop()

    await with_runner(settings, forever)


async def list_jobs(settings: Settings) -> list[str]:
    """A table: each job, its schedule, its next due time and its last run."""

    async def show(runner: JobRunner) -> list[str]:
        last, running = await runner.last_runs(), await runner.running()
        now = runner.clock.now()
        lines = [f"{'job':<18} {'schedule':<16} {'next run':<26} last run"]
        for job in JOBS:
            run = last.get(job.name)
            nxt = next_run_at(job, settings.tz, now=now)
            if job.name in running:
                last_text = "running now"
            elif run is None:
                last_text = "never"
            else:
                last_text = f"{run['status']} for {run['period']} ({run['rows']} rows)"
                if run["error"]:
                    last_text += f": {run['error']}"
            when = nxt.isoformat() if nxt else "-"
            lines.append(f"{job.name:<18} {job.schedule:<16} {when:<26} {last_text}")
        return lines

    return await with_runner(settings, show)


def describe(result: RunResult) -> str:
    return (
        f"{result.job} for {result.period}: {result.outcome}"
        + (f", {result.rows} rows" if result.rows is not None else "")
        + (f" ({result.error})" if result.error else "")
    )


async def run_job(settings: Settings, job: JobSpec, *, day: date | None) -> RunResult:
    async def run(runner: JobRunner) -> RunResult:
        after = {"date": None if day is None else day.isoformat()}
        now = runner.clock.now()
        if day is not None:
            refuse_day_not_over(job, day, now=now, tz=settings.tz)
        await audit.record(
            Context(db=runner.db, actor=audit.operator(), now=now, tz=runner.tz),
            "job.run",
            target=f"jobs/{job.name}",
            before=None,
            after=after,
        )
        return await runner.run_now(job, day)

    return await with_runner(settings, run)


async def backfill(settings: Settings, job: JobSpec, *, first: date, last: date) -> tuple[int, int]:
    """The job for every day from `first` to `last`, with a progress bar: (days, failures)."""
    if not job.daily:
        raise SystemExit(f"{job.name} is not a daily job; use festival jobs run")
    if last < first:
        raise SystemExit("--from must not be after --to")
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]

    async def fill(runner: JobRunner) -> int:
        failures = 0
        for i, day in enumerate(days, start=1):
            result = await runner.run_day(job, day, force=True)
            failures += result.outcome != "succeeded"
            progress(i, len(days), f"{day} {result.outcome}")
        return failures

    async def audited_fill(runner: JobRunner) -> int:
        after = {"from": first.isoformat(), "to": last.isoformat()}
        now = runner.clock.now()
        refuse_day_not_over(job, last, now=now, tz=settings.tz)
        await audit.record(
            Context(db=runner.db, actor=audit.operator(), now=now, tz=runner.tz),
            "job.backfill",
            target=f"jobs/{job.name}",
            before=None,
            after=after,
        )
        return await fill(runner)

    return len(days), await with_runner(settings, audited_fill)
