"""Merchants redeeming over HTTP, and the nightly jobs run after their day (the risk, money
and turnover tests share them)."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from typing import Any

from tests.conftest import Api, Merchant

FLAGS = "/api/v1/admin/risk/flags"
REDEMPTIONS = "/api/v1/merchant/redemptions"
SETTLEMENTS = "/api/v1/admin/settlements"
DAY = date(2020, 5, 6)  # the test clock's day
HUG, CLEAR = 10_300, 15_000  # 满100: within 5% above the threshold, and well clear of it

Shop = Merchant


async def shop(api: Api) -> Shop:
    return await api.merchant(category="shopping")


async def batch(api: Api, **overrides: Any) -> int:
    # Open from two days before the clock, so earlier days can be played too.
    now = api.clock.now()
    body = {
        "quantity": 500,
        "claim_starts_at": (now - timedelta(days=2)).isoformat(),
        "claim_ends_at": (now + timedelta(days=5)).isoformat(),
        "valid_days": 30,
        **overrides,
    }
    return int((await api.create_batch(**body))["id"])


async def redeem(api: Api, at: Shop, batch_id: int, sub: str, order_fen: int) -> dict[str, Any]:
    return await api.redeemed(at, batch_id, order_fen, sub)


async def reverse(api: Api, at: Shop, redemption: dict[str, Any]) -> None:
    path = f"{REDEMPTIONS}/{redemption['id']}/reversal"
    await api.call("POST", path, json={"reason": "退货"}, headers=at.headers, expect=200)


async def series(
    api: Api, at: Shop, batch_id: int, orders: list[int], every_minutes: float = 2
) -> list[dict[str, Any]]:
    """One redemption per order amount, each by another resident, `every_minutes` apart."""
    done = []
    for order in orders:
        done.append(await redeem(api, at, batch_id, f"r-{uuid.uuid4().hex[:12]}", order))
        api.clock.advance(minutes=every_minutes)
    return done


def night_after(api: Api, day: date, minute: int) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(0, minute), api.settings.tz)


async def scan(api: Api, day: date = DAY, *, intraday: bool = False) -> None:
    """The nightly scan of a day that is over (00:40 the next morning), or today's so far."""
    at = api.clock.now() if intraday else night_after(api, day, 40)
    await api.run_job("risk_scan", day, at)


async def settle(api: Api, day: date) -> None:
    """The nightly settlement of `day` (00:30 the next morning)."""
    await api.run_job("settlement", day, night_after(api, day, 30))
