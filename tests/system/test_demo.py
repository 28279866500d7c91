"""The demo festival: loaded through the live code on a small scale, consistent with its own
raw rows, deterministic for a seed, refused on a database that already holds data, and the
commands `make run` prints work when pasted."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import time
import urllib.request
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from service.credit_code import credit_code_error
from service.db import Database
from service.demo import cash_out
from service.demo import turnover as demo_turnover
from service.demo.loader import FIRST_DAY, load_demo
from service.demo.places import STREETS
from service.domain import audit, budget, ledger, lottery, recovery
from service.domain.lottery import verify_record
from service.errors import DomainError
from service.schemas.merchants import HOURS
from service.views.lottery import draw_record_text
from tests.conftest import create_database, drop_database, with_database
from tests.support.downloads import csv_body
from tests.support.processes import FESTIVAL, ROOT, festival_env, free_port
from tests.support.scenario import TZ, assert_daily_rows_match_raw_rows, assert_every_fen_settled
from tests.system.conftest import DEMO_SCALE

SCALE = DEMO_SCALE  # the scale demo_db loads: a second load must match it


async def fresh_db(server_url: str, template: str) -> tuple[str, str]:
    name = await create_database(server_url, "festival_d", template)
    return name, with_database(server_url, name)


async def test_the_demo_has_a_month_of_festival_in_four_categories(demo_db: Any) -> None:
    url, credentials = demo_db
    conn = await asyncpg.connect(url)
    try:
        merchants = await conn.fetch("SELECT * FROM merchants")
        batches = await conn.fetch("SELECT * FROM batches ORDER BY claim_starts_at")
        per_day = {
            r["day"]: r["n"]
            for r in await conn.fetch(
                # Residents' claims (the planted cash-out mules keep their own rhythm).
                "SELECT (v.claimed_at AT TIME ZONE 'Asia/Shanghai')::date AS day, count(*) AS n"
                " FROM vouchers v JOIN residents r ON r.id = v.resident_id"
                " WHERE r.sub NOT LIKE 'demo-mule-%' AND r.sub NOT LIKE 'demo-ring-%' GROUP BY 1"
            )
        }
        stray_auto = await conn.fetchval(
            """
            SELECT count(*) FROM redemptions r
            WHERE r.category = 'auto' AND NOT EXISTS (
                SELECT 1 FROM batch_merchants m WHERE m.batch_id = r.batch_id
                  AND m.merchant_id = r.merchant_id)
            """
        )
        rules = {(r["category"], r["face_value_fen"], r["min_spend_fen"]) for r in batches}
        below = await conn.fetchval(
            "SELECT count(*) FROM redemptions r JOIN batches b ON b.id = r.batch_id"
            " WHERE r.order_amount_fen < b.min_spend_fen"
        )
        statuses = Counter(r["status"] for r in await conn.fetch("SELECT status FROM vouchers"))
        reversed_ = await conn.fetchval(
            "SELECT count(*) FROM redemptions WHERE status = 'reversed'"
        )
    finally:
        await conn.close()
    assert 55 <= len(merchants) <= 65
    assert all(credit_code_error(m["credit_code"]) is None for m in merchants)
    assert {m["category"] for m in merchants} == {"shopping", "dining", "culture_tourism", "auto"}
    # 31 days × 3 categories first come, and 4 auto lottery rounds, released (or opening
    # registration) at 10:00 Beijing time, valid 7 days; plus the live ones.
    festival = [b for b in batches if b["claim_starts_at"].year == 2020]
    assert Counter(b["mode"] for b in festival) == {"first_come": 31 * 3, "lottery": 4}
    assert {b["category"] for b in festival if b["mode"] == "lottery"} == {"auto"}
    assert {b["claim_starts_at"].astimezone(TZ).hour for b in festival} == {10}
    assert {b["valid_days"] for b in festival} == {7}
    assert rules >= {
        ("shopping", 2000, 10000),
        ("dining", 1000, 5000),
        ("culture_tourism", 3000, 10000),
        ("auto", 200000, 5000000),
    }
    assert stray_auto == 0 and below == 0
    # Labor Day (1–5 May) is busier than the working days after it; weekends busier too.
    holiday = sum(per_day[date(2020, 5, d)] for d in range(1, 6)) / 5
    workdays = sum(per_day[date(2020, 5, d)] for d in (6, 7, 8, 11, 12)) / 5
    weekend = sum(per_day[date(2020, 5, d)] for d in (16, 17, 23, 24)) / 4
    assert holiday > weekend > workdays
    assert statuses["redeemed"] > 0 and statuses["expired"] > 0 and reversed_ > 0
    assert credentials["bureau"]["username"] and credentials["merchant"]["api_key"]


async def test_the_demo_merchants_have_huaiyin_streets_places_and_hours(demo_db: Any) -> None:
    url, _ = demo_db
    conn = await asyncpg.connect(url)
    try:
        merchants = await conn.fetch("SELECT * FROM merchants ORDER BY id")
        applications = await conn.fetch("SELECT * FROM merchant_applications ORDER BY id")
        night_open = await conn.fetchval(
            "SELECT count(*) FROM merchants WHERE hours_open_at(hours, 23 * 60 + 30)"
        )
    finally:
        await conn.close()
    assert {m["street"] for m in merchants} <= set(STREETS)
    assert len({m["street"] for m in merchants}) >= 12  # spread over the district
    for m in merchants:
        assert 36.62 <= m["lat"] <= 36.72 and 116.88 <= m["lng"] <= 117.00, m["name"]
        assert HOURS.regex.fullmatch(m["hours"]), m["hours"]
    by_name = {m["name"]: m for m in merchants}
    assert by_name["槐荫烧烤大排档"]["hours"] in ("17:00-02:00", "18:00-03:00")  # past midnight
    assert by_name["匡山汽车大世界"]["street"] == "匡山街道"
    assert 3 <= night_open < len(merchants) / 4  # a few places for a late supper
    # Two businesses wait for the bureau's answer, on streets of the district too.
    assert [(a["status"], a["street"] in STREETS) for a in applications] == [
        ("submitted", True),
        ("submitted", True),
    ]
    assert all(credit_code_error(a["credit_code"]) is None for a in applications)


async def test_the_demo_auto_lotteries_were_drawn_verifiably_and_recycled(demo_db: Any) -> None:
    url, _ = demo_db
    db = await Database.connect(url, min_size=1, max_size=2)
    try:
        rounds = await db.pool.fetch(
            "SELECT id, quantity, claimed, recycled_out FROM batches"
            " WHERE mode = 'lottery' AND drawn_at IS NOT NULL ORDER BY draw_at"
        )
        assert len(rounds) == 4
        for batch in rounds:
            drawn = json.loads(draw_record_text(await lottery.record(db, batch["id"]), TZ))
            assert verify_record(drawn) == [], drawn
            # Many more entries than vouchers: every voucher went to a winner.
            assert drawn["entries"] > 5 * len(drawn["winner_entry_ids"]) > 0
            assert len(drawn["winner_entry_ids"]) == batch["claimed"]
        # Rounds 1 and 2 gave their expired vouchers to rounds 3 and 4, before those draws.
        moves = await db.pool.fetch(
            "SELECT batch_id, peer_batch_id, quantity FROM batch_events"
            " WHERE kind = 'recycled_in' ORDER BY id"
        )
        ids = [b["id"] for b in rounds]
        assert [(m["batch_id"], m["peer_batch_id"]) for m in moves] == [
            (ids[2], ids[0]),
            (ids[3], ids[1]),
        ]
        assert all(m["quantity"] > 0 for m in moves)
        # Every category has a budget, and some of it is left.
        lines = await budget.report(db, datetime.now(UTC))
        assert all(line["budget_fen"] > line["committed_fen"] + line["spent_fen"] for line in lines)
        assert all(line["spent_fen"] > 0 for line in lines)
    finally:
        await db.close()


async def test_the_demo_month_sent_its_messages_as_the_job_would_have(demo_db: Any) -> None:
    """Lottery results to every entrant with a phone, expiry reminders, all recorded sent
    under the demo's provider ids (nothing was sent), none in the quiet hours, at most two
    reminders a person a day; residents without a phone got none."""
    url, _ = demo_db
    conn = await asyncpg.connect(url)
    try:
        outbox = await conn.fetch("SELECT * FROM messages ORDER BY id")
        entrants = await conn.fetch(
            "SELECT e.batch_id, e.person, e.status,"
            " EXISTS (SELECT 1 FROM residents r WHERE r.person = e.person"
            "         AND r.phone_enc IS NOT NULL) AS has_phone"
            " FROM lottery_entries e JOIN batches b ON b.id = e.batch_id"
            " WHERE b.drawn_at IS NOT NULL"
        )
        # The demo's residents (the planted cash-out rings come with tokens only).
        phones = await conn.fetchval("SELECT count(*) FROM residents WHERE phone_enc IS NOT NULL")
        residents = await conn.fetchval(
            "SELECT count(*) FROM residents WHERE sub ~ '^demo-r[0-9]+$'"
        )
    finally:
        await conn.close()
    assert 0.5 * residents < phones < 0.9 * residents
    kinds = Counter(m["kind"] for m in outbox)
    assert kinds["lottery_result"] > 100 and kinds["expiry_reminder"] > 100, kinds
    assert {m["status"] for m in outbox} == {"sent"}
    assert all(m["provider_message_id"] == f"demo-hyf-{m['id']}" for m in outbox)
    for m in outbox:
        local = m["sent_at"].astimezone(TZ).time()
        assert 8 <= local.hour < 21, m
    per_person_day = Counter(
        (m["person"], m["sent_at"].astimezone(TZ).date())
        for m in outbox
        if m["kind"] == "expiry_reminder"
    )
    assert max(per_person_day.values()) <= 2
    # Each entrant of a drawn round with a phone got its result once, and only they.
    results = Counter(
        (int(m["dedupe_key"].split(":")[1]), m["person"])
        for m in outbox
        if m["kind"] == "lottery_result"
    )
    assert set(results.values()) == {1}
    assert set(results) == {(e["batch_id"], e["person"]) for e in entrants if e["has_phone"]}
    won = {(e["batch_id"], e["person"]) for e in entrants if e["status"] == "won"}
    for m in outbox:
        if m["kind"] == "lottery_result":
            key = (int(m["dedupe_key"].split(":")[1]), m["person"])
            assert ("恭喜" in m["text"]) == (key in won), m["text"]


# The share of honest merchants the risk rules may flag at all over the demo month (the README
# states the figure measured at full scale).
HONEST_FLAGGED_AT_MOST = 0.10


async def test_the_planted_cash_out_merchants_are_caught_by_their_rules(demo_db: Any) -> None:
    url, _ = demo_db
    db = await Database.connect(url, min_size=1, max_size=2)
    try:
        flags = await db.pool.fetch(
            "SELECT f.merchant_id, m.name, f.rule, f.date, f.subject, f.status"
            " FROM risk_flags f JOIN merchants m ON m.id = f.merchant_id ORDER BY f.date, f.id"
        )
        names = {name for name, *_ in cash_out.PLANTED.values()}
        planted = {f["merchant_id"] for f in flags if f["name"] in names}
        assert len(planted) == 3
        for name, _, _, rule in cash_out.PLANTED.values():
            assert {f["rule"] for f in flags if f["name"] == name} == {rule}, name
        hugger = [f for f in flags if f["name"] == cash_out.PLANTED["hugging"][0]]
        assert [f["date"] for f in hugger] == cash_out.HUGGING_DAYS
        (burst,) = [f for f in flags if f["rule"] == "burst" and f["merchant_id"] in planted]
        assert burst["date"] == cash_out.BURST_DAY
        ring = [f for f in flags if f["name"] == cash_out.PLANTED["ring"][0]]
        members = {f"r:demo-ring-{i}" for i in range(1, cash_out.RING_MEMBERS + 1)}
        assert {f["subject"] for f in ring} == members
        # Once per person per seven days: on the third day of the ring, and a week later.
        assert sorted({f["date"] for f in ring}) == [date(2020, 5, 12), date(2020, 5, 19)]
        honest = await db.pool.fetchval("SELECT count(*) FROM merchants") - 3
        flagged_honest = {f["merchant_id"] for f in flags} - planted
        assert len(flagged_honest) <= HONEST_FLAGGED_AT_MOST * honest, flagged_honest
        # The bureau confirmed the hugger's first flag: what it earned since is held, not
        # paid; every other merchant was paid all it was owed, day by day.
        assert hugger[0]["status"] == "confirmed"
        payable = {
            r["merchant_id"]: r["balance_fen"]
            for r in await db.pool.fetch(
                "SELECT merchant_id, balance_fen FROM ledger_balances WHERE kind = 'payable'"
            )
        }
        owed = {m: fen for m, fen in payable.items() if fen != 0}
        assert list(owed) == [hugger[0]["merchant_id"]] and owed[hugger[0]["merchant_id"]] > 0
        verified = await ledger.verify(db)
        assert verified.ok, verified.problems
        assert (await audit.verify(db)).ok
    finally:
        await db.close()


async def test_the_demo_recovery_interval_holds_each_planted_effect(demo_db: Any) -> None:
    url, _ = demo_db
    db = await Database.connect(url, min_size=1, max_size=2)
    try:
        last = FIRST_DAY + timedelta(days=30)
        found = await recovery.compute(db, FIRST_DAY, last=last, category=None, baseline_year=2019)
        codes = await db.pool.fetch(
            "SELECT DISTINCT t.credit_code, t.category, m.id IS NOT NULL AS festival"
            " FROM turnover t LEFT JOIN merchants m ON m.credit_code = t.credit_code"
            " ORDER BY t.credit_code"
        )
        stored = await db.pool.fetch(
            "SELECT category, figures::text AS figures FROM stats_recovery WHERE date IS NULL"
        )
    finally:
        await db.close()
    for total in found.totals:
        category = total["category"]
        effect = demo_turnover.TRUE_EFFECT[category]
        assert total["ci_low"] < effect < total["ci_high"], total
        festival = [c for c in codes if c["category"] == category and c["festival"]]
        assert total["merchants_reporting"] == len(festival) > 0
        assert total["comparison_reporting"] == demo_turnover.COMPARISON_PER_CATEGORY
    # The interval narrows as merchants are added: a third of each group against all of them.
    third = {c["credit_code"] for i, c in enumerate(codes) if i % 3 == 0}
    db = await Database.connect(url, min_size=1, max_size=2)
    try:
        fewer = await recovery.compute(
            db, FIRST_DAY, last=last, category=None, baseline_year=2019, only=third
        )
    finally:
        await db.close()

    def width(row: dict[str, Any]) -> float:
        return float(row["ci_high"] - row["ci_low"])

    # Per category where a third still leaves five festival merchants (a bootstrap over
    # three merchants can come out narrow by luck), and over all four.
    compared = 0
    for whole, part in zip(found.totals, fewer.totals, strict=True):
        if part["merchants_reporting"] >= 5:
            assert width(whole) < width(part), (whole, part)
            compared += 1
    assert compared >= 2, fewer.totals
    assert sum(map(width, found.totals)) < sum(map(width, fewer.totals))
    # The nightly job kept the festival to date for the dashboard and the bulletin.
    assert {r["category"] for r in stored} == set(demo_turnover.TRUE_EFFECT)
    for row in stored:
        kept = json.loads(row["figures"])
        (live,) = [t for t in found.totals if t["category"] == row["category"]]
        assert (kept["from"], kept["to"]) == ("2020-05-01", "2020-05-31")
        assert kept["incremental_index"] == live["incremental_index"]


async def test_the_demo_checkouts_name_their_cashiers_and_some_use_several_vouchers(
    demo_db: Any,
) -> None:
    url, credentials = demo_db
    conn = await asyncpg.connect(url)
    try:
        per_merchant = await conn.fetch(
            "SELECT m.id, count(c.id) AS cashiers FROM merchants m"
            " LEFT JOIN cashiers c ON c.merchant_id = m.id GROUP BY m.id"
        )
        made = await conn.fetch(
            "SELECT r.id, r.merchant_id, r.cashier_id, c.merchant_id AS cashier_merchant,"
            " r.metadata, r.checkout_id, r.idempotency_key, r.category, r.order_amount_fen,"
            " b.min_spend_fen FROM redemptions r JOIN batches b ON b.id = r.batch_id"
            " LEFT JOIN cashiers c ON c.id = r.cashier_id"
        )
        till = credentials["cashier"]
        key_hash = await conn.fetchval(
            "SELECT api_key_hash FROM cashiers WHERE id = $1 AND merchant_id = $2",
            till["cashier_id"],
            till["merchant_id"],
        )
    finally:
        await conn.close()
    assert {r["cashiers"] for r in per_merchant} <= {1, 2, 3}
    assert len({r["cashiers"] for r in per_merchant}) > 1
    # Mostly cashiers at the till, each its merchant's own; now and then the owner.
    by_cashier = [r for r in made if r["cashier_id"] is not None]
    assert all(r["cashier_merchant"] == r["merchant_id"] for r in by_cashier)
    assert 0.7 * len(made) < len(by_cashier) < len(made)
    assert all(re.fullmatch(r"(收银台 \d|店主) · 小票号 \d{4}-\d{5}", r["metadata"]) for r in made)
    # A few checkouts of several vouchers of one category: one key, one merchant, each item's
    # share of the order at least its threshold.
    checkouts: dict[int, list[Any]] = {}
    for r in made:
        if r["checkout_id"] is not None:
            checkouts.setdefault(r["checkout_id"], []).append(r)
    assert checkouts and all(len(items) >= 2 for items in checkouts.values())
    for checkout_id, items in checkouts.items():
        assert checkout_id == min(r["id"] for r in items)
        for column in ("idempotency_key", "merchant_id", "category", "cashier_id", "metadata"):
            assert len({r[column] for r in items}) == 1, (column, items)
        assert all(r["order_amount_fen"] >= r["min_spend_fen"] for r in items)
    # The credentials' cashier signs in with its key.
    assert bytes(key_hash) == hashlib.sha256(till["api_key"].encode()).digest()
    assert credentials["summary"]["checkouts"] == len(checkouts)


async def test_the_demo_stats_agree_with_its_raw_rows(demo_db: Any) -> None:
    url, _ = demo_db
    db = await Database.connect(url, min_size=1, max_size=2)
    try:
        days = [FIRST_DAY + timedelta(days=i) for i in range(38)]
        await assert_daily_rows_match_raw_rows(db, days)
        baselines = await db.pool.fetchval(
            "SELECT count(*) FROM baselines WHERE category = 'dining' AND date BETWEEN $1 AND $2",
            days[0],
            days[30],
        )
        assert baselines == 31
        await assert_every_fen_settled(db)
    finally:
        await db.close()


async def test_loading_twice_refuses_and_changes_nothing(demo_db: Any, tmp_path: Path) -> None:
    url, _ = demo_db
    db = await Database.connect(url, min_size=1, max_size=2)
    try:
        before = await db.pool.fetchval("SELECT count(*) FROM vouchers")
        with pytest.raises(DomainError) as refused:
            await load_demo(db, TZ, tmp_path, seed=7, scale=SCALE)
        assert "empty database" in refused.value.message
        assert await db.pool.fetchval("SELECT count(*) FROM vouchers") == before
    finally:
        await db.close()


async def test_the_same_seed_gives_the_same_festival(
    demo_db: Any, server_url: str, template_db: str, tmp_path: Path
) -> None:
    url, _ = demo_db
    name, other = await fresh_db(server_url, template_db)
    try:
        db = await Database.connect(other, min_size=2, max_size=10)
        try:
            await load_demo(db, TZ, tmp_path, seed=7, scale=SCALE)
        finally:
            await db.close()
        query = (
            "SELECT date, category, vouchers_claimed, vouchers_redeemed, vouchers_expired,"
            " redemptions_reversed, subsidy_fen, sales_fen, computed_at FROM stats_daily"
            " ORDER BY date, category"
        )
        places = "SELECT name, street, lat, lng, hours, credit_code FROM merchants ORDER BY id"
        pending = "SELECT name, credit_code, contact_phone, lat, lng FROM merchant_applications"
        rows, where, waiting = [], [], []
        for target in (url, other):
            conn = await asyncpg.connect(target)
            try:
                rows.append([tuple(r) for r in await conn.fetch(query)])
                where.append([tuple(r) for r in await conn.fetch(places)])
                waiting.append(sorted(tuple(r) for r in await conn.fetch(pending)))
            finally:
                await conn.close()
        assert rows[0] == rows[1] and len(rows[0]) > 100
        assert where[0] == where[1] and waiting[0] == waiting[1] and len(waiting[0]) == 2
    finally:
        await drop_database(server_url, name)


def test_make_run_loads_the_demo_and_its_printed_commands_work(
    empty_db_url: str, tmp_path: Path
) -> None:
    # Tests are sync here on purpose: the printed commands run in a real shell.
    env = festival_env(empty_db_url, tmp_path)
    port = free_port()
    out = tmp_path / "run.out"
    with out.open("w") as stdout, (tmp_path / "run.err").open("w") as stderr:
        proc = subprocess.Popen(
            [*FESTIVAL, "run", "--port", str(port), "--demo-scale", "0.02"],
            env=env,
            cwd=ROOT,
            stdout=stdout,
            stderr=stderr,
        )
    try:
        deadline = time.monotonic() + 120
        while "Ctrl-C stops it" not in out.read_text():
            assert proc.poll() is None and time.monotonic() < deadline, (
                tmp_path / "run.err"
            ).read_text()
            time.sleep(0.2)
        banner = out.read_text()
        exports = re.findall(r"^  (export \w+=\S+)$", banner, re.MULTILINE)
        section = banner.split("Try:\n", 1)[1].split("\n\n", 1)[0]
        commands = [line[2:] for line in section.splitlines() if not line.strip().startswith("#")]
        script = "\n".join([*exports, *commands])
        result = subprocess.run(
            ["bash", "-eu", "-c", script],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        output = csv_body(result.stdout).splitlines()  # the first command's CSV, BOM first
        assert output[0].startswith("date,category,vouchers_claimed,vouchers_redeemed")
        assert output[1].startswith("2020-05-01,auto,")
        assert '"status":"completed"' in output[-1] and '"discount_fen":1000' in output[-1]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz") as ready:
            assert ready.status == 200
        assert "demo-bureau /" in banner and "api key mk_" in banner
        for page in ("/cashier", "/bureau"):
            assert f"http://127.0.0.1:{port}{page}" in banner
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{page}") as html:
                assert "春暖槐荫消费节" in html.read().decode()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
