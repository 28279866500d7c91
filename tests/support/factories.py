"""Valid request bodies, with overrides, for the tests."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from service.clock import FixedClock
from service.credit_code import with_check_character

_serial = itertools.count(1)


def credit_code() -> str:
    """A fresh, valid 统一社会信用代码 (Jinan, Huaiyin district: 370104)."""
    return with_check_character(f"91370104MA{next(_serial):07d}")


def merchant_body(**overrides: Any) -> dict[str, Any]:
    body = {
        "name": "济南远大购物广场",
        "category": "shopping",
        "credit_code": credit_code(),
        "district": "槐荫区",
        "address": "济南市槐荫区经十路与腊山河西路交叉口",
        "contact_phone": "13812345678",
    }
    body.update(overrides)
    return body


def batch_body(clock: FixedClock, **overrides: Any) -> dict[str, Any]:
    """A shopping batch (满100减20) open at the clock's time."""
    now = clock.now()
    body = {
        "category": "shopping",
        "title": "购物券 满100减20",
        "face_value_fen": 2000,
        "min_spend_fen": 10000,
        "quantity": 100,
        "per_resident_limit": 1,
        "claim_starts_at": (now - timedelta(hours=1)).isoformat(),
        "claim_ends_at": (now + timedelta(hours=10)).isoformat(),
        "valid_days": 7,
    }
    body.update(overrides)
    return body


def live_batch_body(**overrides: Any) -> dict[str, Any]:
    """A dining batch (满50减10) open now by the real clock, for tests of real processes."""
    dining = {
        "category": "dining",
        "title": "餐饮券 满50减10",
        "face_value_fen": 1000,
        "min_spend_fen": 5000,
    }
    return batch_body(FixedClock(datetime.now(UTC)), **{**dining, **overrides})


async def insert_batch(db_url: str, starts: datetime, ends: datetime, quantity: int = 10) -> int:
    """A dining batch written straight to the database (before any service runs)."""
    import asyncpg

    conn = await asyncpg.connect(db_url)
    try:
        batch_id: int = await conn.fetchval(
            """
            INSERT INTO batches (category, title, face_value_fen, min_spend_fen, quantity,
                per_resident_limit, claim_starts_at, claim_ends_at, valid_days)
            VALUES ('dining', '餐饮券', 1000, 5000, $3, 1, $1, $2, 7)
            RETURNING id
            """,
            starts,
            ends,
            quantity,
        )
    finally:
        await conn.close()
    return batch_id
