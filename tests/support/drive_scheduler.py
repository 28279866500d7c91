"""A scheduler process on a simulated clock: fires every job's due times between two instants,
in order, through the same JobRunner a real scheduler uses.

    python -m tests.support.drive_scheduler DATABASE_URL 2020-05-01T00:00+08:00 2020-05-03T00:00+08:00
"""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

from jobs.registry import JOBS
from jobs.runner import JobRunner
from jobs.scheduler import trigger
from service.clock import FixedClock
from service.db import Database

TZ = ZoneInfo("Asia/Shanghai")


def due_times(start: datetime, end: datetime) -> list[tuple[datetime, str]]:
    fires = []
    for job in JOBS:
        t = trigger(job, TZ)
        fire = t.get_next_fire_time(None, start)
        while fire is not None and fire < end:
            fires.append((fire, job.name))
            fire = t.get_next_fire_time(fire, fire.replace(second=1))
    return sorted(fires)


async def main(url: str, start: datetime, end: datetime) -> None:
    from jobs.registry import BY_NAME

    db = await Database.connect(url, min_size=1, max_size=2)
    clock = FixedClock(start)
    runner = JobRunner(db, clock, tz=TZ)
    outcomes: dict[str, int] = {}
    try:
        for due, name in due_times(start, end):
            clock.at = due
            for result in await runner.on_due(BY_NAME[name], due):
                outcomes[result.outcome] = outcomes.get(result.outcome, 0) + 1
    finally:
        await db.close()
    print(outcomes)


if __name__ == "__main__":
    asyncio.run(
        main(sys.argv[1], datetime.fromisoformat(sys.argv[2]), datetime.fromisoformat(sys.argv[3]))
    )
