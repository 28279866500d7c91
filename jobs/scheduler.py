"""APScheduler wiring: the schedule lives in code (jobs/registry.py), never in a shared job
store; every due time goes through JobRunner, which makes it run once across processes.

In a drill (FESTIVAL_DRILL) the festival's clock is real time plus an offset that the bureau
moves forward in jumps, which APScheduler, on real time, knows nothing of: DrillScheduler
fires due times on the drill's clock instead."""

from __future__ import annotations

import asyncio
import functools
import logging
from datetime import datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from jobs.registry import JOBS, JobSpec
from jobs.runner import JobRunner, RunResult
from service.clock import DrillClock

log = logging.getLogger("festival.scheduler")

# How often the drill's scheduler looks at the drill clock (which follows a move within 1 s).
DRILL_TICK_S = 0.5
# Where the search for a job's latest due time in a span starts, nearest first: the end of
# the span less each of these (a frequent job has one within the hour, a daily one within
# two days), else the span's start.
_LOOK_BACK = (timedelta(hours=1), timedelta(days=2))
_JUST_AFTER = timedelta(microseconds=1)


def trigger(job: JobSpec, tz: Any) -> CronTrigger:
    return CronTrigger.from_crontab(job.schedule, timezone=tz)


def next_run_at(job: JobSpec, tz: Any, *, now: datetime) -> datetime | None:
    fire: datetime | None = trigger(job, tz).get_next_fire_time(None, now)
    return fire


def latest_due(job: JobSpec, tz: Any, *, after: datetime, upto: datetime) -> datetime | None:
    """The latest due time of `job` in (after, upto], if any. Walks due times only from near
    `upto`, so a jump of a year costs no more than one of a day."""
    cron = trigger(job, tz)
    for start in [*(max(after, upto - back) for back in _LOOK_BACK), after]:
        fire: datetime | None = cron.get_next_fire_time(None, start + _JUST_AFTER)
        if fire is not None and fire <= upto:
            while True:
                later: datetime | None = cron.get_next_fire_time(None, fire + _JUST_AFTER)
                if later is None or later > upto:
                    return fire
                fire = later
        if start == after:
            return None
    return None


class FestivalScheduler:
    def __init__(self, runner: JobRunner) -> None:
        self.runner = runner
        self.scheduler = AsyncIOScheduler(timezone=runner.tz)
        self._catch_up: asyncio.Task[Any] | None = None

    def start(self) -> None:
        for job in JOBS:
            self.scheduler.add_job(
                self._fire,
                trigger(job, self.runner.tz),
                args=[job],
                id=job.name,
                # A due time missed while busy or down is never silently dropped: it runs
                # late, once, and daily jobs also catch up from the database's record.
                misfire_grace_time=None,
                coalesce=True,
                max_instances=1,
            )
        self.scheduler.start()
        self._catch_up = asyncio.create_task(self.runner.catch_up_all())
        log.info("scheduler started: %s", ", ".join(f"{j.name} ({j.schedule})" for j in JOBS))

    async def _fire(self, job: JobSpec) -> None:
        await self.runner.on_due(job, self.runner.clock.now())

    async def stop(self) -> None:
        self.scheduler.shutdown(wait=False)
        if self._catch_up is not None and not self._catch_up.done():
            self._catch_up.cancel()
            await asyncio.gather(self._catch_up, return_exceptions=True)


class DrillScheduler:
    """The jobs on a drill's clock. Every DRILL_TICK_S it looks at the clock; each job with due
    times between its previous look and now runs once, for the latest of them, as after a
    scheduler outage: a daily job then catches up every day it missed, a frequent one runs
    its latest period. A job runs one at a time (as APScheduler's max_instances=1): while it
    runs its due times wait, and the look after it ends covers them (coalesced)."""

    def __init__(self, runner: JobRunner, tick_s: float = DRILL_TICK_S) -> None:
        self.runner = runner
        self.tick_s = tick_s
        now = runner.clock.now()
        # Per job: the drill time up to which its due times have been handled.
        self._seen = {job.name: now for job in JOBS}
        self._running: dict[str, asyncio.Task[list[RunResult]]] = {}
        self._loop: asyncio.Task[None] | None = None
        self._catch_up: asyncio.Task[Any] | None = None

    def start(self) -> None:
        self._loop = asyncio.create_task(self._look_forever(), name="drill-scheduler")
        self._catch_up = asyncio.create_task(self.runner.catch_up_all())
        log.info(
            "drill scheduler started: the jobs follow the drill clock, now %s",
            self.runner.clock.now().astimezone(self.runner.tz).isoformat(),
        )

    async def _look_forever(self) -> None:
        while True:
            await asyncio.sleep(self.tick_s)
            self.fire_due()

    def fire_due(self) -> list[asyncio.Task[list[RunResult]]]:
        """Starts each job due since its previous look (one task per job)."""
        now = self.runner.clock.now()
        started = []
        for job in JOBS:
            if job.name in self._running:
                continue
            due = latest_due(job, self.runner.tz, after=self._seen[job.name], upto=now)
            self._seen[job.name] = now
            if due is None:
                continue
            task = asyncio.create_task(self._run(job, due), name=f"drill-{job.name}")
            self._running[job.name] = task
            task.add_done_callback(functools.partial(self._done, job.name))
            started.append(task)
        return started

    def _done(self, name: str, _: object) -> None:
        self._running.pop(name, None)

    async def _run(self, job: JobSpec, due: datetime) -> list[RunResult]:
        try:
            return await self.runner.on_due(job, due)
        except Exception:  # e.g. the database away while catching up: the next due time retries
            log.exception("job %s due at %s could not run", job.name, due.isoformat())
            return []

    async def tick(self) -> list[RunResult]:
        """One look at the clock, returning when the runs it started are done."""
        runs = await asyncio.gather(*self.fire_due())
        return [result for results in runs for result in results]

    async def stop(self) -> None:
        tasks = [t for t in (self._loop, self._catch_up) if t is not None]
        tasks += self._running.values()  # a run cut short rolls back and is run again
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def scheduler_for(runner: JobRunner) -> FestivalScheduler | DrillScheduler:
    """The scheduler for the runner's clock: a drill's follows the drill clock."""
    if isinstance(runner.clock, DrillClock):
        return DrillScheduler(runner)
    return FestivalScheduler(runner)
