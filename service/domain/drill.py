"""The drill clock (演练, API.md "Drill clock"): with FESTIVAL_DRILL the festival's business
time is real time plus an offset kept in the database (table drill_clock), which the bureau
moves forward only. Every process keeps its DrillClock on the stored offset by looking a few
times a second (`following`), so all of them and their schedulers follow a move within a
second; the process that served the move follows it at once.

Moves take turns on the clock's one row: the check that the clock does not go back and the
new offset are decided under its lock, so two moves at once never leave it behind either.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from service.clock import Clock, DrillClock
from service.db import Database
from service.domain import audit
from service.errors import DomainError, ErrorCode

log = logging.getLogger("festival.drill")

# How often a process looks at the stored offset: well inside the contract's 1 s, for one
# primary-key read.
FOLLOW_INTERVAL_S = 0.25


@dataclass(frozen=True)
class Moved:
    now: datetime  # the festival's clock right after the move (= the moment asked for)
    offset: timedelta
    moved_at: datetime  # real time


def _offset(offset_us: int) -> timedelta:
    return timedelta(microseconds=offset_us)


def _offset_us(offset: timedelta) -> int:
    return offset // timedelta(microseconds=1)


async def stored_offset(db: Database) -> timedelta:
    return _offset(await db.fetchval("drill_offset"))


async def refresh(db: Database, clock: DrillClock) -> None:
    clock.follow(await stored_offset(db))


async def clock_for(db: Database, drill: bool) -> Clock:
    """The clock a command on its own uses: real time, or in a drill the drill's, as stored
    now (a command lasts too short a time to follow moves)."""
    if not drill:
        return Clock()
    clock = DrillClock()
    await refresh(db, clock)
    return clock


async def _follow(db: Database, clock: DrillClock) -> None:
    failing = False
    while True:
        await asyncio.sleep(FOLLOW_INTERVAL_S)
        try:
            await refresh(db, clock)
        except Exception:
            # The database away: keep the last offset (time still runs) and say so once.
            if not failing:
                log.warning("cannot read the drill clock; keeping its last offset", exc_info=True)
            failing = True
        else:
            if failing:
                log.info("the drill clock is followed again")
            failing = False


@contextlib.asynccontextmanager
async def following(db: Database, clock: Clock) -> AsyncIterator[None]:
    """While inside, a DrillClock follows the stored offset (read once before entering, so a
    process starts on the drill's time); any other clock is left as it is."""
    if not isinstance(clock, DrillClock):
        yield
        return
    await refresh(db, clock)
    task = asyncio.create_task(_follow(db, clock), name="drill-clock")
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def move(db: Database, clock: Clock, *, to: datetime, actor: audit.Actor) -> Moved:
    """Moves the festival's clock forward to `to` (clock_backwards if `to` is earlier than it
    is now), on the audit trail; `clock`, if it is a DrillClock, follows at once."""
    async with db.transaction() as tx:
        row = await tx.fetchrow("lock_drill_clock")
        assert row is not None, "the drill_clock row is made by its migration"
        real = datetime.now(UTC)
        before = real + _offset(row["offset_us"])
        if to < before:
            raise DomainError(
                ErrorCode.CLOCK_BACKWARDS,
                "the drill clock only moves forward",
                {"now": before.isoformat(), "to": to.isoformat()},
            )
        offset = to - real
        moved = await tx.fetchrow(
            "move_drill_clock", offset_us=_offset_us(offset), moved_at=real, moved_by=actor.name
        )
        assert moved is not None
        await audit.append(
            tx,
            actor=actor,
            action="drill.clock",
            target="drill/clock",
            before={"now": before, "offset_us": row["offset_us"]},
            after={"now": to, "offset_us": moved["offset_us"]},
            now=before,
        )
    if isinstance(clock, DrillClock):
        clock.follow(offset)
    return Moved(now=to, offset=offset, moved_at=real)
