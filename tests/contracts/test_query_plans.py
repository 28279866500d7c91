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
# The bureau's tables, grown by SQL below: the risk flags of a festival's nights, its audit
# trail, a year of imported takings (the baseline) and this year's, and the ledger's transfers
# (the fill's redemptions each wrote one).
BUREAU_BIG = {"risk_flags", "audit_log", "turnover", "transfers"}

FLAGS = """
INSERT INTO risk_flags (merchant_id, rule, date, subject, score, evidence, status, raised_at,
                        reviewed_by, reviewed_at)
SELECT m.ids[1 + i % array_length(m.ids, 1)],
       (ARRAY['repeat_pair', 'threshold_hugging', 'burst', 'reversal_churn'])[1 + i % 4],
       $1::date + (i / 400), 'r-' || i, 0.6, '{}',
       -- Most flags reviewed long ago; the open ones are today's few.
       CASE WHEN i % 100 = 0 THEN 'open' ELSE 'dismissed' END,
       now(), CASE WHEN i % 100 = 0 THEN NULL ELSE 'ops' END,
       CASE WHEN i % 100 = 0 THEN NULL ELSE now() END
FROM generate_series(0, $2::int - 1) i, (SELECT array_agg(id ORDER BY id) AS ids FROM merchants) m
"""
TRAIL = """
INSERT INTO audit_log (id, at, actor, action, object, after, prev_hash, hash)
SELECT i, $1::timestamptz + i * interval '10 seconds', 'bureau:ops-' || i % 20,
       'merchant.update', 'merchants/' || i % 500, '{}',
       md5('p' || i) || md5('q' || i), md5('h' || i) || md5('k' || i)
FROM generate_series(1, $2::int) i
"""
TAKINGS = """
INSERT INTO turnover (credit_code, date, category, sales_fen, transactions, source, recorded_at)
SELECT '91370104XX' || lpad(c::text, 8, '0'), d::date,
       (ARRAY['shopping', 'dining', 'culture_tourism', 'auto'])[1 + c % 4],
       100000 + c, NULL::integer, 'import', now()
FROM generate_series(1, $1::int) c,
     generate_series(date '2019-04-01', date '2019-05-31', interval '1 day') d
UNION ALL
SELECT '91370104XX' || lpad(c::text, 8, '0'), d::date,
       (ARRAY['shopping', 'dining', 'culture_tourism', 'auto'])[1 + c % 4],
       100000 + c, NULL::integer, 'import', now()
FROM generate_series(1, $1::int) c,
     generate_series(date '2020-04-01', date '2020-05-31', interval '1 day') d
UNION ALL
SELECT m.credit_code, d::date, m.category, 90000, 10, 'merchant', now()
FROM merchants m, generate_series(date '2020-04-01', date '2020-05-31', interval '1 day') d
"""


async def plan_of(conn: Any, name: str, params: dict[str, Any]) -> dict[str, Any]:
    named = query(name)
    rows = await conn.fetch("EXPLAIN (FORMAT JSON) " + named.text, *named.args(params))
    return dict(json.loads(rows[0][0])[0]["Plan"])


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
            "merchant_redemption": {"redemption_id": redemption, "merchant_id": merchant},
            "merchant_redemptions_on_day": {"merchant_id": merchant, "day": date(2020, 5, 6)},
            "merchant_redemption_by_key": {"merchant_id": merchant, "key": "scale-1"},
            # A reversal finds its redemption's checkout; a checkout's preview and QR code.
            "lock_checkout": {"redemption_id": redemption, "merchant_id": merchant},
            "vouchers_for_merchant": {"codes": [code], "merchant_id": merchant, "now": now},
            "resident_vouchers_by_code": {"sub": "scale-7", "codes": [code], "now": now},
        }
        for name, params in hot.items():
            plan = await plan_of(conn, name, params)
            assert not scanned(plan) & BIG, (name, json.dumps(plan, indent=1)[:3000])
    finally:
        await conn.close()


async def test_the_bureaus_hot_reads_use_their_indexes(db_url: str) -> None:
    """The pages the bureau keeps open (risk flags, the audit trail, a merchant's takings, the
    recovery estimate, a merchant's balances, transfers and statement) read through their
    indexes, whatever the size of the festival behind them."""
    conn = await asyncpg.connect(db_url)
    try:
        residents = 3000
        await fill_frame(conn, residents)
        for n in range(10):
            day = FIRST + timedelta(days=n)
            await conn.execute(FILL_DAY, day_bounds(day, TZ)[0], n, 600, 500, residents, day)
        await conn.execute(FLAGS, FIRST, 40_000)
        await conn.execute(TRAIL, datetime(2020, 4, 20, tzinfo=UTC), 40_000)
        await conn.execute(TAKINGS, 300)
        await conn.execute("ANALYZE")
        merchant = await conn.fetchval("SELECT merchant_id FROM transfers ORDER BY id DESC LIMIT 1")
        festival = (date(2020, 5, 1), date(2020, 5, 6))
        days = [festival[0] + timedelta(days=n) for n in range(6)]
        baseline = [date(2019, 5, 2) + timedelta(days=n) for n in range(6)]
        any_flag = {"status": None, "merchant_id": None, "rule": None, "limit": 50}
        any_entry = {
            "from_at": None,
            "to_at": None,
            "actor": None,
            "action": None,
            "before_id": None,
        }
        hot: dict[str, tuple[str, dict[str, Any]]] = {
            # The risk page: the open flags, and one merchant's.
            "open flags": ("risk_flags", {**any_flag, "status": "open"}),
            "a merchant's flags": ("risk_flags", {**any_flag, "merchant_id": merchant}),
            # The audit trail: its latest page, one actor's entries, and an hour of it.
            "the trail's latest": ("audit_entries", {**any_entry, "object": None, "limit": 50}),
            # The page's next page: the entries older than the last one shown.
            "an older page of the trail": (
                "audit_entries",
                {**any_entry, "object": None, "limit": 51, "before_id": 20_000},
            ),
            "an actor's entries": (
                "audit_entries",
                {**any_entry, "actor": "bureau:ops-7", "object": None, "limit": 50},
            ),
            "an hour of the trail": (
                "audit_entries",
                {
                    **any_entry,
                    "from_at": datetime(2020, 4, 21, 9, tzinfo=UTC),
                    "to_at": datetime(2020, 4, 21, 10, tzinfo=UTC),
                    "object": None,
                    "limit": 50,
                },
            ),
            # Turnover and recovery: a merchant's days, and a range with its baseline days.
            "a merchant's takings": (
                "merchant_turnover",
                {"merchant_id": merchant, "from_day": festival[0], "to_day": festival[1]},
            ),
            "recovery of a category": (
                "recovery_rows",
                {"days": days + baseline, "category": "shopping"},
            ),
            # The ledger: a merchant's balances, transfers and statement.
            "a merchant's balances": ("merchant_balances", {"merchant_id": merchant}),
            "a merchant's transfers": (
                "ledger_transfers",
                {
                    "merchant_id": merchant,
                    "kind": None,
                    "from_day": festival[0],
                    "to_day": festival[1],
                    "limit": 200,
                },
            ),
            "a merchant's statement": (
                "merchant_statement",
                {"merchant_id": merchant, "from_day": festival[0], "to_day": festival[1]},
            ),
        }
        sizes = {
            table: await conn.fetchval(f"SELECT count(*) FROM {table}") for table in BUREAU_BIG
        }
        assert min(sizes.values()) >= 5000, sizes  # big enough for a scan to cost
        for what, (name, params) in hot.items():
            plan = await plan_of(conn, name, params)
            assert not scanned(plan) & (BIG | BUREAU_BIG), (what, json.dumps(plan, indent=1)[:3000])
    finally:
        await conn.close()


# Merchants all over Shandong (lat 34.5–38.3, lng 114.8–122.7), a fifth suspended, a tenth with
# no position: big enough that reading them all would cost.
DIRECTORY_MERCHANTS = """
INSERT INTO merchants (name, category, credit_code, district, address, contact_phone,
                       api_key_hash, status, street, lat, lng, hours)
SELECT '商户' || i, (ARRAY['shopping', 'dining', 'culture_tourism', 'auto'])[1 + i % 4],
       '91370104MA' || lpad(i::text, 8, '0'), '槐荫区', '地址' || i, '13812345678', '\\x00',
       CASE WHEN i % 5 = 0 THEN 'suspended' ELSE 'active' END, '街道' || (i % 40),
       CASE WHEN i % 10 = 3 THEN NULL ELSE 34.5 + (i::bigint * 7919 % 3800) / 1000.0 END,
       CASE WHEN i % 10 = 3 THEN NULL ELSE 114.8 + (i::bigint * 104729 % 7900) / 1000.0 END,
       '09:00-21:00'
FROM generate_series(1, $1::int) i
"""


async def test_the_directory_reads_use_their_indexes(db_url: str) -> None:
    """Nearest first reads a bounding box off merchants_active_position_idx (the exact
    distance is computed for the box's rows alone), and the street order walks
    merchants_active_street_idx from the cursor's place: neither reads every merchant."""
    conn = await asyncpg.connect(db_url)
    try:
        await conn.execute(DIRECTORY_MERCHANTS, 50_000)
        await conn.execute("ANALYZE merchants")
        filters = {"category": None, "street": None, "name_like": None, "minute": None}
        # A 2 km box around 槐荫区 (what the first try of a page asks).
        near = {
            **filters,
            "batch_id": None,
            "lat": 36.665,
            "lng": 116.95,
            "lat_min": 36.647,
            "lat_max": 36.683,
            "lng_min": 116.927,
            "lng_max": 116.973,
            "radius_m": 2000,
            "after_m": -1,
            "after_id": 0,
            "limit": 21,
        }
        by_street = {
            **filters,
            "batch_id": None,
            "unplaced_only": False,
            "after_id": None,
            "after_no_street": None,
            "after_street": None,
            "after_name": None,
            "limit": 21,
        }
        later_page = {
            **by_street,
            "after_id": 1234,
            "after_no_street": False,
            "after_street": "街道17",
            "after_name": "商户1234",
        }
        for name, params, index in (
            ("directory_near", near, "merchants_active_position_idx"),
            ("directory_near", {**near, "category": "dining", "minute": 600}, None),
            ("directory_by_street", by_street, "merchants_active_street_idx"),
            ("directory_by_street", later_page, "merchants_active_street_idx"),
        ):
            plan = await plan_of(conn, name, params)
            text = json.dumps(plan)
            assert "merchants" not in scanned(plan), (name, json.dumps(plan, indent=1)[:3000])
            assert index is None or index in text, (name, json.dumps(plan, indent=1)[:3000])
    finally:
        await conn.close()


OUTBOX = """
INSERT INTO messages (dedupe_key, kind, phone_masked, person, text, status, attempts,
                      next_attempt_at, provider_message_id, sent_at, created_at, updated_at,
                      admitted_on, phone_enc)
SELECT 'fill:' || i, (ARRAY['lottery_result', 'expiry_reminder'])[1 + i % 2], '139****0000',
       'p:' || i % 20000, 't', CASE WHEN i % 1000 = 0 THEN 'queued' ELSE 'sent' END, 1,
       $1::timestamptz, CASE WHEN i % 1000 = 0 THEN NULL ELSE 'x' || i END,
       CASE WHEN i % 1000 = 0 THEN NULL ELSE $1::timestamptz END, $1::timestamptz, $1::timestamptz,
       CASE WHEN i % 2 = 1 THEN $2::date END,
       CASE WHEN i % 1000 = 0 THEN decode(repeat('ab', 40), 'hex') END
FROM generate_series(1, $3::int) i
"""


async def test_the_outboxs_queries_use_their_indexes(db_url: str) -> None:
    """The send_messages job every minute, over a festival's worth of messages sent: the few
    due ones are found through their partial index, a person's reminders of the day through
    theirs, and the bureau's pages through the key or status."""
    conn = await asyncpg.connect(db_url)
    try:
        await fill_frame(conn, 3000)
        now = datetime(2020, 5, 6, 3, 0, tzinfo=UTC)
        await conn.execute(OUTBOX, now, date(2020, 5, 6), 200_000)
        await conn.execute("ANALYZE")
        page = {"kind": None, "before_id": None, "limit": 101}
        hot: dict[str, tuple[str, dict[str, Any]]] = {
            "the due messages": ("lease_candidates", {"now": now, "limit": 16}),
            "a day's reminders per person": (
                "reminders_admitted",
                {"day": date(2020, 5, 6), "persons": ["p:7", "p:9"]},
            ),
            "the latest page": ("list_messages", {**page, "status": None}),
            "the failed": ("list_messages", {**page, "status": "failed"}),
            "an earlier page": ("list_messages", {**page, "status": None, "before_id": 100_000}),
        }
        for what, (name, params) in hot.items():
            plan = await plan_of(conn, name, params)
            assert "messages" not in scanned(plan), (what, json.dumps(plan, indent=1)[:3000])
    finally:
        await conn.close()
