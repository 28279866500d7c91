"""Times go out as ISO 8601 with the festival's offset (+08:00)."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any


def iso(value: datetime | None, tz: Any) -> str | None:
    return None if value is None else value.astimezone(tz).isoformat()


def day_bounds(day: date, tz: Any) -> tuple[datetime, datetime]:
    """The instants a business day starts and ends (exclusive) in the festival's zone."""
    start = datetime.combine(day, time(), tz)
    end = datetime.combine(date.fromordinal(day.toordinal() + 1), time(), tz)
    return start, end


def business_day(at: datetime, tz: Any) -> date:
    return at.astimezone(tz).date()
