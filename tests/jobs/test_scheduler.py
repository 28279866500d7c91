"""Jobs run once per due time across processes, catch up missed days, survive being killed
mid-run, and put each redemption on the right business day."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import asyncpg

from jobs.registry import BY_NAME, JOBS
from jobs.runner import JobRunner
from service.clock import FixedClock
from service.db import Database
from service.domain import stats
from tests.conftest import Api
from tests.support.factories import insert_batch
from tests.support.processes import FESTIVAL, ROOT, festival_env, serving
from tests.support.scenario import DAY0, TZ, Op, at, build, expected_daily, play

ROLLUP, SETTLEMENT = BY_NAME["daily_rollup"], BY_NAME["settlement"]


async def seeded(db_url: str) -> Database:
    """A database with four days of activity from 1 May 2020, and a pool on it."""
    db = await Database.connect(db_url, min_size=1, max_size=3)
    world = await build(db, [(6, 2, 1), (6, 2, 2), (6, 1, 1), (6, 1, 2)], days=4)
    plan = [
        Op(kind, day, second, resident, batch, 0, extra)
        for day in range(3)
        for resident in range(3)
        for batch in range(4)
        for kind, second, extra in (("claim", 3600, 0), ("redeem", 7200 + resident, 1001))
    ] + [Op("reverse", 1, 7300, 0, 0, 0, 0)]
    await play(world, plan)
    return db


async def test_a_redemption_at_235959_and_one_at_000000_land_on_different_days(api: Api) -> None:
    shop = await api.merchant()
    api.clock.at = datetime(2020, 5, 6, 22, 0, tzinfo=TZ)
    batch = await api.create_batch(quantity=10, per_resident_limit=2)
    codes = [await api.claimed(batch["id"], "night-owl") for _ in range(2)]
    for code, moment in zip(
        codes,
        (datetime(2020, 5, 6, 23, 59, 59, tzinfo=TZ), datetime(2020, 5, 7, 0, 0, 0, tzinfo=TZ)),
        strict=True,
    ):
        api.clock.at = moment
        await api.redeem(shop, code, 15000, ref=str(moment))
    for day in (date(2020, 5, 6), date(2020, 5, 7)):
        await api.run_job("daily_rollup", day)
    _, body = await api.call(
        "GET",
        "/api/v1/stats/daily?from=2020-05-06&to=2020-05-07&category=shopping",
        headers=api.bureau,
        expect=200,
    )
    assert [(r["date"], r["vouchers_redeemed"], r["sales_fen"]) for r in body["items"]] == [
        ("2020-05-06", 1, 15000),
        ("2020-05-07", 1, 15000),
    ]
    _, lines = await api.call(
        "GET", "/api/v1/merchant/redemptions?date=2020-05-07", headers=shop.headers, expect=200
    )
    assert [i["redeemed_at"] for i in lines["items"]] == ["2020-05-07T00:00:00+08:00"]


async def test_two_scheduler_processes_run_each_due_period_once(db_url: str) -> None:
    db = await seeded(db_url)
    await db.close()
    start, end = "2020-05-01T18:00+08:00", "2020-05-03T06:00+08:00"
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.support.drive_scheduler",
            db_url,
            start,
            end,
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(2)
    ]
    outputs = await asyncio.wait_for(asyncio.gather(*(p.communicate() for p in procs)), 240)
    assert [p.returncode for p in procs] == [0, 0], outputs
    conn = await asyncpg.connect(db_url)
    try:
        runs = await conn.fetch("SELECT job, period, status, attempts FROM job_runs")
        lines = await conn.fetchval("SELECT count(*) FROM settlement_lines")
        owed = await conn.fetchval(
            "SELECT sum(discount_fen) FROM redemptions WHERE status = 'completed'"
            " AND business_date <= '2020-05-02'"
        )
        settled = await conn.fetchval(
            "SELECT sum(subsidy_fen + adjustments_fen) FROM settlement_lines"
        )
    finally:
        await conn.close()
    assert runs and all(r["status"] == "succeeded" for r in runs), runs
    # Each (job, period) ran exactly once: a second run would have counted another attempt.
    assert all(r["attempts"] == 1 for r in runs), [dict(r) for r in runs if r["attempts"] != 1]
    periods = {(r["job"], r["period"]) for r in runs}
    for job in ("daily_rollup", "settlement"):
        assert {p for j, p in periods if j == job} == {"2020-05-01", "2020-05-02"}
    minute_runs = {p for j, p in periods if j == "intraday_refresh"}
    assert len(minute_runs) == 36 * 12  # every five minutes for 36 hours
    assert lines > 0 and settled == owed


async def test_a_scheduler_back_after_two_missed_days_fills_both(db_url: str) -> None:
    db = await seeded(db_url)
    try:
        clock = FixedClock(at(1, 600))  # 2 May 00:10: 1 May is due
        runner = JobRunner(db, clock, tz=TZ)
        assert [r.period for r in await runner.catch_up_all()] == ["2020-05-01"] * 4
        clock.at = at(3, 3600)  # down on 2 and 3 May; back on 4 May at 01:00
        results = await runner.catch_up_all()
        assert [(r.job, r.period, r.outcome) for r in results] == [
            ("daily_rollup", "2020-05-02", "succeeded"),
            ("daily_rollup", "2020-05-03", "succeeded"),
            ("settlement", "2020-05-02", "succeeded"),
            ("settlement", "2020-05-03", "succeeded"),
            ("risk_scan", "2020-05-02", "succeeded"),
            ("risk_scan", "2020-05-03", "succeeded"),
            ("recovery", "2020-05-02", "succeeded"),
            ("recovery", "2020-05-03", "succeeded"),
        ]
        assert await runner.catch_up_all() == []  # nothing left, nothing run twice
        stored = await stats.daily_rows(db, DAY0, to_day=DAY0 + timedelta(days=2), category=None)
        assert len(stored) == 3 * 4
    finally:
        await db.close()


async def test_a_failed_run_is_recorded_and_retried_at_the_next_due_time(db_url: str) -> None:
    db = await seeded(db_url)
    admin = await asyncpg.connect(db_url)
    try:
        clock = FixedClock(at(1, 300))
        runner = JobRunner(db, clock, tz=TZ)
        await admin.execute(
            "ALTER TABLE stats_daily ADD CONSTRAINT broken_for_test CHECK (false) NOT VALID"
        )
        (failed,) = await runner.on_due(ROLLUP, clock.now())
        assert failed.outcome == "failed" and "broken_for_test" in (failed.error or "")
        row = await admin.fetchrow("SELECT * FROM job_runs WHERE job = 'daily_rollup'")
        assert (row["period"], row["status"]) == ("2020-05-01", "failed")
        assert "broken_for_test" in row["error"]
        await admin.execute("ALTER TABLE stats_daily DROP CONSTRAINT broken_for_test")
        clock.at = at(2, 300)
        retried = await runner.on_due(ROLLUP, clock.now())
        assert [(r.period, r.outcome) for r in retried] == [
            ("2020-05-01", "succeeded"),
            ("2020-05-02", "succeeded"),
        ]
        row = await admin.fetchrow(
            "SELECT * FROM job_runs WHERE job = 'daily_rollup' AND period = '2020-05-01'"
        )
        assert (row["status"], row["attempts"], row["error"]) == ("succeeded", 2, None)
    finally:
        await admin.close()
        await db.close()


async def test_a_job_killed_mid_run_leaves_nothing_and_is_redone_cleanly(
    db_url: str, tmp_path: Path
) -> None:
    db = await seeded(db_url)
    blocker = await asyncpg.connect(db_url)
    watcher = await asyncpg.connect(db_url)
    try:
        # The run sweeps expiries, then blocks on the stats table we hold: killed right there.
        tx = blocker.transaction()
        await tx.start()
        await blocker.execute("LOCK TABLE stats_daily IN ACCESS EXCLUSIVE MODE")
        env = festival_env(db_url, tmp_path)
        proc = await asyncio.create_subprocess_exec(
            *FESTIVAL,
            "jobs",
            "run",
            "daily_rollup",
            "--date",
            "2020-05-03",
            env=env,
            cwd=ROOT,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while not await watcher.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            " AND query LIKE '%stats_daily%' AND pid <> pg_backend_pid()"
        ):
            assert time.monotonic() < deadline and proc.returncode is None, "it never blocked"
            await asyncio.sleep(0.05)
        swept_mid_run = await watcher.fetchval(
            "SELECT count(*) FROM vouchers WHERE status = 'expired'"
        )
        proc.kill()  # SIGKILL: no cleanup of any kind
        await asyncio.wait_for(proc.wait(), 30)
        await tx.rollback()
        # Nothing of the half-done run remains: no stats, no sweep, no success recorded.
        assert swept_mid_run == 0
        assert await watcher.fetchval("SELECT count(*) FROM stats_daily") == 0
        assert await watcher.fetchval("SELECT count(*) FROM vouchers WHERE status = 'expired'") == 0
        assert (
            await watcher.fetchval("SELECT count(*) FROM job_runs WHERE status = 'succeeded'") == 0
        )
        # Its lock died with it: the next run goes ahead and gets it right.
        runner = JobRunner(db, FixedClock(at(4, 300)), tz=TZ)
        results = await runner.catch_up(ROLLUP, at(4, 300))
        assert {r.outcome for r in results} == {"succeeded"}
        days = [DAY0 + timedelta(days=i) for i in range(4)]
        want = await expected_daily(db, days)
        got = await stats.daily_rows(db, days[0], to_day=days[-1], category=None)
        assert {(r["date"].isoformat(), r["category"]): r["vouchers_expired"] for r in got} == {
            k: v["vouchers_expired"] for k, v in want.items()
        }
    finally:
        await blocker.close()
        await watcher.close()
        await db.close()


async def test_a_reversal_after_the_rollup_shows_after_the_next_run(api: Api) -> None:
    from service import keys

    shop = await api.merchant()
    batch = await api.create_batch()
    red = await api.redeemed(shop, batch["id"], 12000, "r")
    runner = api.client.app[keys.JOBS]
    today = date(2020, 5, 6)

    async def shopping_today() -> tuple[int, int, int]:
        await runner.run_now(BY_NAME["intraday_refresh"])
        _, body = await api.call(
            "GET",
            f"/api/v1/stats/daily?from={today}&to={today}&category=shopping",
            headers=api.bureau,
            expect=200,
        )
        (row,) = body["items"]
        return row["vouchers_redeemed"], row["redemptions_reversed"], row["subsidy_fen"]

    assert await shopping_today() == (1, 0, 2000)
    api.clock.advance(hours=1)
    await api.call(
        "POST",
        f"/api/v1/merchant/redemptions/{red['id']}/reversal",
        headers=shop.headers,
        json={"reason": "returned"},
        expect=200,
    )
    assert await shopping_today() == (0, 1, 0)
    # The nightly run recomputes the day too.
    api.clock.at = datetime(2020, 5, 7, 0, 5, tzinfo=TZ)
    await runner.on_due(ROLLUP, api.clock.now())
    assert await shopping_today() == (0, 1, 0)


def test_every_job_has_a_valid_schedule() -> None:
    from jobs.scheduler import next_run_at

    now = datetime(2020, 5, 6, tzinfo=UTC)
    for job in JOBS:
        fire = next_run_at(job, TZ, now=now)
        assert fire is not None and now <= fire < now + timedelta(days=1), job.name


async def test_festival_scheduler_catches_up_and_stops_on_sigterm(
    db_url: str, tmp_path: Path
) -> None:
    """The real command, on the real clock: a festival that began two days ago."""
    now = datetime.now(UTC)
    await insert_batch(db_url, now - timedelta(days=2, hours=1), now + timedelta(days=5))
    env = festival_env(db_url, tmp_path)
    log = tmp_path / "scheduler.log"
    with log.open("w") as out:
        proc = await asyncio.create_subprocess_exec(
            *FESTIVAL, "scheduler", env=env, cwd=ROOT, stdout=out, stderr=asyncio.subprocess.STDOUT
        )
    conn = await asyncpg.connect(db_url)
    try:
        deadline = time.monotonic() + 60
        while (
            await conn.fetchval(
                "SELECT count(*) FROM job_runs WHERE job IN ('daily_rollup', 'settlement')"
                " AND status = 'succeeded'"
            )
            < 4
        ):
            assert time.monotonic() < deadline and proc.returncode is None, log.read_text()
            await asyncio.sleep(0.1)
        periods = await conn.fetch(
            "SELECT job, period FROM job_runs WHERE job = 'daily_rollup' ORDER BY period"
        )
    finally:
        await conn.close()
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 30)
    assert proc.returncode == 0, log.read_text()
    assert len(periods) >= 2 and "Traceback" not in log.read_text()


async def test_serve_runs_the_scheduler_unless_told_not_to(db_url: str, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    await insert_batch(db_url, now - timedelta(days=1, hours=1), now + timedelta(days=5))
    conn = await asyncpg.connect(db_url)
    try:
        env = festival_env(db_url, tmp_path)
        with serving(env, tmp_path / "quiet.log", "--no-scheduler"):
            await asyncio.sleep(1.0)
            assert await conn.fetchval("SELECT count(*) FROM job_runs") == 0
        with serving(env, tmp_path / "busy.log"):
            deadline = time.monotonic() + 30
            while not await conn.fetchval(
                "SELECT count(*) FROM job_runs WHERE job = 'daily_rollup'"
            ):
                assert time.monotonic() < deadline
                await asyncio.sleep(0.1)
    finally:
        await conn.close()


async def test_catch_up_covers_the_festival_and_stops_after_its_last_day(db_url: str) -> None:
    db = await seeded(db_url)  # claims until 5 May, vouchers valid up to 2 days after
    try:
        runner = JobRunner(db, FixedClock(at(60, 300)), tz=TZ)  # two months later
        results = await runner.catch_up(ROLLUP, at(60, 300))
        periods = [r.period for r in results]
        assert periods[0] == "2020-05-01" and periods[-1] == "2020-05-07", periods
        assert len(periods) == 7
        last = await db.pool.fetchval("SELECT max(date) FROM stats_daily")
        assert last == date(2020, 5, 7)
    finally:
        await db.close()


async def test_daily_stats_without_a_range_cover_the_computed_festival(api: Api) -> None:
    from service import keys

    await api.create_batch(claim_starts_at="2020-05-05T08:00:00+08:00")
    runner = api.client.app[keys.JOBS]
    for day in (date(2020, 5, 4), date(2020, 5, 5), date(2020, 5, 6)):  # 4 May: before it
        await runner.run_day(ROLLUP, day, force=True)
    api.clock.at = datetime(2021, 1, 1, tzinfo=TZ)  # long after: still the festival's days
    _, body = await api.call("GET", "/api/v1/stats/daily", headers=api.bureau, expect=200)
    assert sorted({r["date"] for r in body["items"]}) == ["2020-05-05", "2020-05-06"]


async def test_days_between_two_festivals_are_not_computed(api: Api) -> None:
    from service import keys

    await api.create_batch(
        claim_starts_at="2020-05-01T10:00:00+08:00",
        claim_ends_at="2020-05-02T10:00:00+08:00",
        valid_days=1,
    )
    await api.create_batch(
        claim_starts_at="2020-10-01T10:00:00+08:00",
        claim_ends_at="2020-10-01T20:00:00+08:00",
        valid_days=1,
    )
    runner = api.client.app[keys.JOBS]
    results = await runner.catch_up(ROLLUP, datetime(2020, 12, 1, tzinfo=TZ))
    assert [r.period for r in results] == [
        "2020-05-01",
        "2020-05-02",
        "2020-05-03",
        "2020-10-01",
        "2020-10-02",
    ]
