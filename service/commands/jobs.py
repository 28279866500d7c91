"""`festival scheduler` and `festival jobs …`: the scheduled jobs from the command line."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from typing import TYPE_CHECKING, TypeVar

from service.commands import resolved_settings
from service.errors import DomainError
from service.settings import Settings

if TYPE_CHECKING:
    from jobs.registry import JobSpec
    from jobs.runner import JobRunner, RunResult

T = TypeVar("T")


def cmd_scheduler(args: argparse.Namespace) -> int:
    asyncio.run(run_scheduler(resolved_settings()))
    return 0


def cmd_jobs_list(args: argparse.Namespace) -> int:
    print("\n".join(asyncio.run(list_jobs(resolved_settings()))))
    return 0


def cmd_jobs_run(args: argparse.Namespace) -> int:
    job = job_named(args.name)
    try:
        result = asyncio.run(run_job(resolved_settings(), job, day=args.date))
    except DomainError as err:  # e.g. day_not_over: nothing ran
        print(f"festival jobs run: {err.message}", file=sys.stderr)
        return 2
    print(describe(result))
    return {"succeeded": 0, "busy": 3}.get(result.outcome, 1)


def cmd_jobs_backfill(args: argparse.Namespace) -> int:
    job = job_named(args.name)
    try:
        days, failures = asyncio.run(
            backfill(resolved_settings(), job, first=args.from_, last=args.to)
        )
    except DomainError as err:  # e.g. day_not_over: nothing ran
        print(f"festival jobs backfill: {err.message}", file=sys.stderr)
        return 2
    print(f"{job.name}: {days - failures} of {days} days succeeded")
    return 1 if failures else 0


async def with_runner(settings: Settings, work: Callable[[JobRunner], Awaitable[T]]) -> T:
    from jobs.runner import JobRunner
    from service.app import delivery
    from service.db import open_database
    from service.domain import drill
    from service.domain.phones import PhoneCipher
    from service.sms import sms_sender_from_setting

    # One connection more than a run holds (send_messages commits its work beside its run's
    # transaction), and in a drill one more: the drill clock's follower must not wait behind
    # runs.
    async with open_database(settings, min_size=1, max_size=4 if settings.drill else 3) as db:
        clock = await drill.clock_for(db, settings.drill)
        sender = sms_sender_from_setting(settings.sms_sender)
        runner = JobRunner(
            db,
            clock,
            tz=settings.tz,
            risk=settings.risk,
            baseline_year=settings.baseline_year,
            delivery=delivery(settings, sender, PhoneCipher(settings.phone_key_bytes())),
        )
        return await work(runner)


def job_named(name: str) -> JobSpec:
    from jobs.registry import BY_NAME

    if name not in BY_NAME:
        raise SystemExit(f"no job named {name!r}; jobs: {', '.join(BY_NAME)}")
    return BY_NAME[name]


async def run_scheduler(settings: Settings) -> None:
    """The jobs alone, until SIGTERM or Ctrl-C."""
    from jobs.scheduler import scheduler_for
    from service.domain import drill
    from service.processes import until_stopped

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
    from jobs.registry import JOBS
    from jobs.scheduler import next_run_at

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
    from jobs.runner import refuse_day_not_over
    from service.domain import audit
    from service.domain.context import Context

    async def run(runner: JobRunner) -> RunResult:
        after = {"date": None if day is None else day.isoformat()}
        now = runner.clock.now()
        if day is not None:
            refuse_day_not_over(job, day, now=now, tz=settings.tz)
        await audit.record(
            Context(db=runner.db, actor=audit.operator(), now=now, tz=runner.tz),
            action="job.run",
            target=f"jobs/{job.name}",
            before=None,
            after=after,
        )
        return await runner.run_now(job, day)

    return await with_runner(settings, run)


async def backfill(settings: Settings, job: JobSpec, *, first: date, last: date) -> tuple[int, int]:
    """The job for every day from `first` to `last`, with a progress bar: (days, failures)."""
    from jobs.runner import refuse_day_not_over
    from service.domain import audit
    from service.domain.context import Context
    from service.progress import progress

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
            action="job.backfill",
            target=f"jobs/{job.name}",
            before=None,
            after=after,
        )
        return await fill(runner)

    return len(days), await with_runner(settings, audited_fill)
