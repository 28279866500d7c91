"""The one source of "now", so tests, the demo loader and a drill can set the festival's clock.

`now()` is the festival's business time: batch windows, business days, expiry, the reversal
window, settlement and the jobs' due times follow it. `real_now()` is the time that passes
for people, whatever the festival's clock says: token and login-code lifetimes and rate
limits follow it (API.md, "Drill clock": token lifetimes always use real time).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class Clock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def real_now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock(Clock):
    """A clock that stands still until moved (tests, demo data). Real time stands with it, so
    a test can also age login codes and rate limits by moving it."""

    def __init__(self, at: datetime) -> None:
        assert at.tzinfo is not None
        self.at = at

    def now(self) -> datetime:
        return self.at

    def real_now(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += timedelta(**delta)


class DrillClock(Clock):
    """A drill's clock (FESTIVAL_DRILL, API.md "Drill clock"): real time plus an offset kept in
    the database, which only grows. `now()` is on the hot path of every claim, so it never
    asks the database: service/domain/drill.py keeps `offset` on the stored one (`follow`)."""

    def __init__(self, offset: timedelta = timedelta(0)) -> None:
        self.offset = offset

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def follow(self, offset: timedelta) -> None:
        """Take the stored offset. Never backwards: a look at the database that started before
        a move committed must not undo the move this process already follows."""
        if offset > self.offset:
            self.offset = offset
