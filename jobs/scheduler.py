"""APScheduler wiring: the schedule lives in code (jobs/registry.py), never in a shared job
store; every due time goes through JobRunner, which makes it run once across processes."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from jobs.registry import JOBS, JobSpec
from jobs.runner import JobRunner

log = logging.getLogger("festival.scheduler")


def trigger(job: JobSpec, tz: Any) -> CronTrigger:
    return CronTrigger.from_crontab(job.schedule, timezone=tz)


def next_run_at(job: JobSpec, tz: Any, now: datetime) -> datetime | None:
    fire: datetime | None = trigger(job, tz).get_next_fire_time(None, now)
    return fire


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
