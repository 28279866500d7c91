"""The bureau's daily numbers: per (day, category) and per (day, merchant), recomputed from
the raw rows with set-based SQL and upserted, so running a day again is always safe."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from jobs import expiry
from jobs.context import RunContext
from service.db import Conn, Database, rows_of
from service.domain import batches
from service.timefmt import day_bounds

# The nightly rollup also recomputes the days before, so late changes land.
RECOMPUTED_DAYS = 2


# The distinct counts sort a day's redemptions; with the default 4 MB a busy day's sort spills
# to disk. Only this transaction gets more.
WORK_MEM = "64MB"


async def rollup_day(tx: Conn, day: date, *, now: datetime, tz: Any) -> int:
    await tx.raw.execute(f"SET LOCAL work_mem = '{WORK_MEM}'")
    start, end = day_bounds(day, tz)
    rows = rows_of(
        await tx.execute("rollup_day_categories", day=day, day_start=start, day_end=end, now=now)
    )
    return rows + rows_of(await tx.execute("rollup_day_merchants", day=day, now=now))


@dataclass(frozen=True)
class FestivalDays:
    """The business days on which anything can happen: the union of the batches' windows
    and validity. Days between two festivals are not part of it."""

    spans: list[tuple[date, date]]

    def __contains__(self, day: object) -> bool:
        return any(first <= day <= last for first, last in self.spans)  # type: ignore[operator]

    def days(self) -> list[date]:
        out = []
        for first, last in self.spans:
            out += [first + timedelta(days=i) for i in range((last - first).days + 1)]
        return out


async def festival_days(db: Conn | Database, tz: Any) -> FestivalDays:
    windows = await batches.activity_windows(db, tz)
    spans: list[tuple[date, date]] = []
    for first, last in windows:
        if spans and first <= spans[-1][1] + timedelta(days=1):
            spans[-1] = (spans[-1][0], max(spans[-1][1], last))
        else:
            spans.append((first, last))
    return FestivalDays(spans)


async def run_daily(tx: Conn, ctx: RunContext) -> int:
    """The day before (the period) and the two days before it, after sweeping expiries."""
    rows = await expiry.sweep(tx, ctx.now)
    festival = await festival_days(tx, ctx.tz)
    for back in range(RECOMPUTED_DAYS, -1, -1):
        day = ctx.day - timedelta(days=back)
        if day in festival:
            rows += await rollup_day(tx, day, now=ctx.now, tz=ctx.tz)
    return rows
