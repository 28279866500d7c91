"""The drill clock (演练) as the bureau moves it, and the festival days it reads."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from tests.conftest import Api

CLOCK = "/api/v1/admin/drill/clock"


def real_now() -> datetime:
    return datetime.now(UTC)


async def move(api: Api, to: datetime, expect: int | None = 200) -> tuple[int, Any]:
    return await api.call(
        "POST", CLOCK, json={"to": to.isoformat()}, headers=api.bureau, expect=expect
    )


def festival_day(at: datetime, api: Api) -> date:
    return at.astimezone(api.settings.tz).date()


def at_ten(day: date, api: Api) -> datetime:
    return datetime(day.year, day.month, day.day, 10, 0, tzinfo=api.settings.tz)
