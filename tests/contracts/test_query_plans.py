"""The hot reads stay on their indexes as data grow (PgQueuer's query-plan regression tests
are the model): a festival filled by SQL, analysed, and each hot query's plan read back. A
sequential scan of a big table there would make the wallet or the checkout slow in
proportion to the festival's size, which no benchmark on small data would notice."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg

from service.db import query
from service.timefmt import day_bounds
from tests.load.scale import FILL_DAY, FIRST, TZ, fill_frame

BIG = {"vouchers", "redemptions", "residents", "voucher_events", "idempotency_keys"}


def scanned(plan: dict[str, Any]) -> set[str]:
    """The relations a plan reads sequentially."""
    found = set()
    if plan.get("Node Type") == "Seq Scan":
        found.add(plan["Relation Name"])
    for child in plan.get("Plans", []):
        found |= scanned(child)
    return found


async def test_the_hot_reads_use_their_indexes(db_url: str) -> None:
    conn = await asyncpg.connect(db_url)
    try:
        residents = 3000
        await fill_frame(conn, residents)
        for n in range(10):
            day = FIRST + timedelta(days=n)
            await conn.execute(FILL_DAY, day_bounds(day, TZ)[0], n, 600, 500, residents, day)
        await conn.execute("ANALYZE")
        code = await conn.fetchval("SELECT code FROM vouchers ORDER BY id DESC LIMIT 1")
        redemption, merchant = await conn.fetchrow(
            "SELECT id, merchant_id FROM redemptions ORDER BY id DESC LIMIT 1"
        )
        now = datetime(2020, 5, 6, 3, 0, tzinfo=UTC)
        hot = {
            "resident_vouchers": {"sub": "scale-7", "now": now, "status": None, "limit": 200},
            "resident_voucher": {"sub": "scale-7", "code": code, "now": now},
            "voucher_for_merchant": {"code": code, "merchant_id": merchant, "now": now},
            "merchant_redemption": {"redemption_id": redemption, "merchant_id": merchant},
            "merchant_redemptions_on_day": {"merchant_id": merchant, "day": date(2020, 5, 6)},
            "merchant_redemption_by_key": {"merchant_id": merchant, "key": "scale-1"},
        }
        for name, params in hot.items():
            named = query(name)
            rows = await conn.fetch("EXPLAIN (FORMAT JSON) " + named.text, *named.args(params))
            plan = json.loads(rows[0][0])[0]["Plan"]
            assert not scanned(plan) & BIG, (name, json.dumps(plan, indent=1)[:3000])
    finally:
        await conn.close()
