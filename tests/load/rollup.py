"""Rollup benchmark: D days × N redemptions inserted by SQL; the daily aggregation job for one
day and the backfill of all days, beside the plain GROUP BY of the same rows (PERF.md, 4).

    python -m tests.load.rollup DATABASE_URL [--days 3] [--per-day 100000]

Needs a migrated, empty database (it fills it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from jobs.registry import BY_NAME
from jobs.rollup import rollup_day
from jobs.runner import JobRunner
from service.clock import FixedClock
from service.db import Database
from service.domain import risk
from service.settings import RiskRules
from service.timefmt import day_bounds

TZ = ZoneInfo("Asia/Shanghai")
FIRST = date(2020, 5, 1)

# The same aggregates over the same rows as sql/queries/stats.sql computes (claimed, redeemed,
# expired, reversed per category; per merchant), without writing them.
RAW_GROUP_BY = """
SELECT r.category, count(*), sum(r.discount_fen), sum(r.order_amount_fen),
       count(DISTINCT v.resident_id), count(DISTINCT r.merchant_id)
FROM redemptions r JOIN vouchers v ON v.id = r.voucher_id
WHERE r.business_date = $1 AND r.status = 'completed'
GROUP BY r.category;
"""
RAW_CLAIMED = """
SELECT b.category, count(*) FROM vouchers v JOIN batches b ON b.id = v.batch_id
WHERE v.claimed_at >= $1 AND v.claimed_at < $2 GROUP BY b.category;
"""
RAW_EXPIRED = """
SELECT b.category, count(*) FROM voucher_events e JOIN batches b ON b.id = e.batch_id
WHERE e.kind = 'expired' AND e.at >= $1 AND e.at < $2 GROUP BY b.category;
"""
RAW_REVERSED = """
SELECT category, count(*) FROM redemptions
WHERE business_date = $1 AND status = 'reversed' GROUP BY category;
"""
RAW_MERCHANTS = """
SELECT r.merchant_id, count(*), sum(r.discount_fen), sum(r.order_amount_fen),
       count(DISTINCT v.resident_id)
FROM redemptions r JOIN vouchers v ON v.id = r.voucher_id
WHERE r.business_date = $1 GROUP BY r.merchant_id;
"""

RESIDENTS = 50_000  # FILL_DAY spreads the vouchers over these
# A festival's frame, shared with tests/load/scale.py: $2 merchants, one batch per category
# open $3 days from $1, and $4 residents "<$5>-1" … (the names carry the $5 prefix).
FILL = """
WITH m AS (
    INSERT INTO merchants (name, category, credit_code, district, address, contact_phone, api_key_hash)
    SELECT $5::text || ' ' || i, (ARRAY['shopping','dining','culture_tourism','auto'])[1 + i % 4],
           lpad(i::text, 17, '0') || 'X', '槐荫区', 'addr', '13800000000', '\\x00'
    FROM generate_series(1, $2::int) i
    RETURNING id
), b AS (
    INSERT INTO batches (category, title, face_value_fen, min_spend_fen, quantity, per_resident_limit,
                         claim_starts_at, claim_ends_at, valid_days, claimed)
    SELECT c, $5::text || ' ' || c, 2000, 10000, 100000000, 1000, $1::timestamptz,
           $1::timestamptz + $3::int * interval '1 day', 30, 0
    FROM unnest(ARRAY['shopping','dining','culture_tourism','auto']) c
    RETURNING id
)
INSERT INTO residents (sub) SELECT $5::text || '-' || i FROM generate_series(1, $4::int) i;
"""
FILL_DAY = """
WITH ids AS (
    SELECT (SELECT array_agg(id ORDER BY id) FROM batches) AS batches,
           (SELECT array_agg(id ORDER BY id) FROM residents) AS residents
), v AS (
    INSERT INTO vouchers (code, batch_id, per_resident_limit, resident_id, person, slot, status,
                          claimed_at, expires_at, redeemed_at)
    SELECT 'B' || $2::int || '-' || i, ids.batches[1 + i % 4], 1000,
           ids.residents[1 + i % 50000], 'r:bench-' || (1 + i % 50000),
           $2::int * 100 + 1 + i / 50000, 'redeemed',
           $1::timestamptz + (i % 80000) * interval '1 second', $1::timestamptz + interval '30 days',
           $1::timestamptz + (i % 80000) * interval '1 second' + interval '60 seconds'
    FROM generate_series(0, $3::int - 1) i, ids
    RETURNING id, batch_id, redeemed_at
), m AS (
    SELECT category, array_agg(id ORDER BY id) AS ids FROM merchants GROUP BY category
)
INSERT INTO redemptions (voucher_id, merchant_id, batch_id, category, order_amount_fen, discount_fen,
                         payable_fen, order_ref, idempotency_key, redeemed_at, business_date)
SELECT v.id, m.ids[1 + v.id % 50], v.batch_id, bt.category, 10000 + (v.id % 9000), 2000,
       8000 + (v.id % 9000), 'bench', 'bench-' || v.id, v.redeemed_at, $4::date
FROM v JOIN batches bt ON bt.id = v.batch_id JOIN m ON m.category = bt.category;
"""


async def timed(work) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    await work()
    return time.perf_counter() - started


async def main(url: str, days: int, per_day: int) -> dict:
    db = await Database.connect(url, min_size=1, max_size=2)
    try:
        start, _ = day_bounds(FIRST, TZ)
        await db.pool.execute(FILL, start, 200, 60, RESIDENTS, "bench")
        for d in range(days):
            day = FIRST + timedelta(days=d)
            day_start, _ = day_bounds(day, TZ)
            t = time.perf_counter()
            await db.pool.execute(FILL_DAY, day_start, d, per_day, day)
            print(
                f"filled {day}: {per_day} redemptions in {time.perf_counter() - t:.1f} s",
                file=sys.stderr,
            )
        await db.pool.execute("ANALYZE")
        day = FIRST
        day_start, day_end = day_bounds(day, TZ)

        async def raw() -> None:
            async with db.pool.acquire() as conn:
                await conn.fetch(RAW_GROUP_BY, day)
                await conn.fetch(RAW_CLAIMED, day_start, day_end)
                await conn.fetch(RAW_EXPIRED, day_start, day_end)
                await conn.fetch(RAW_REVERSED, day)
                await conn.fetch(RAW_MERCHANTS, day)

        async def job_day() -> None:
            async with db.transaction() as tx:
                await rollup_day(tx, day, now=day_end, tz=TZ)

        raw_s, job_s = [], []
        for _ in range(5):  # interleaved, so both see the same cache and noise
            raw_s.append(await timed(raw))
            job_s.append(await timed(job_day))
        runner = JobRunner(db, FixedClock(day_bounds(FIRST + timedelta(days=days), TZ)[1]), tz=TZ)

        async def backfill() -> None:
            for d in range(days):
                result = await runner.run_day(
                    BY_NAME["daily_rollup"], FIRST + timedelta(days=d), force=True
                )
                assert result.outcome == "succeeded", result

        backfill_s = await timed(backfill)

        # The risk_scan of the last day (with the days before as history), rolled back each time
        # so every run scans the same: PERF.md's "a scan of a 100,000-redemption day".
        last = FIRST + timedelta(days=days - 1)
        flags = []

        async def scan() -> None:
            async with db.connection() as conn:
                transaction = conn.raw.transaction()
                await transaction.start()
                try:
                    scanned = await risk.scan(
                        conn, last, now=day_bounds(last, TZ)[1], rules=RiskRules(), full_day=True
                    )
                    assert not scanned.failures, scanned.failures
                    flags.append(scanned.flags)
                finally:
                    await transaction.rollback()

        scan_s = [await timed(scan) for _ in range(3)]
        result = {
            "redemptions_per_day": per_day,
            "days": days,
            "raw_group_by_s": round(statistics.median(raw_s), 4),
            "rollup_one_day_s": round(statistics.median(job_s), 4),
            "rollup_over_raw": round(statistics.median(job_s) / statistics.median(raw_s), 2),
            "backfill_all_days_s": round(backfill_s, 3),
            "risk_scan_s": round(statistics.median(scan_s), 3),
            "risk_scan_flags": flags[-1],
        }
        return result
    finally:
        await db.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("database_url")
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--per-day", type=int, default=100_000)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.database_url, args.days, args.per_day)), indent=2))
