"""A lottery batch (摇号) the bureau creates, and where residents enter it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.conftest import Api

ENTRIES = "/api/v1/batches/{}/entries"


async def lottery_batch(api: Api, **overrides: Any) -> dict[str, Any]:
    now = api.clock.now()
    body = {
        "category": "auto",
        "title": "汽车消费券 满10万减1万（摇号）",
        "face_value_fen": 1_000_000,
        "min_spend_fen": 10_000_000,
        "quantity": 3,
        "per_resident_limit": 1,
        "claim_starts_at": (now - timedelta(hours=1)).isoformat(),
        "claim_ends_at": (now + timedelta(hours=1)).isoformat(),
        "draw_at": (now + timedelta(hours=2)).isoformat(),
        "valid_days": 30,
        "mode": "lottery",
        **overrides,
    }
    _, batch = await api.call(
        "POST", "/api/v1/admin/batches", json=body, headers=api.bureau, expect=201
    )
    return batch
