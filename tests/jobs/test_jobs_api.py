"""The scheduled jobs as the bureau sees and starts them (API.md: "Jobs (bureau)"), and the
`festival jobs` commands. Exactly-once across processes, catch-up and crashes are in
test_scheduler.py; here: the listing, starting a run, 409 while running anywhere, a failing
run recorded with its error, and the command line."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

import asyncpg

from jobs.registry import BY_NAME, JOBS
from jobs.runner import LOCK_NAMESPACE, RunResult
from service import keys
from tests.conftest import Api, assert_error

JOBS_PATH = "/api/v1/admin/jobs"
DAY = date(2020, 5, 6)
NOW = "2020-05-06T10:00:00+08:00"  # the test clock, as the API writes it
# When each job is next due from the test clock's 10:00 on 6 May 2020 (Asia/Shanghai).
NEXT_RUN = {
    "daily_rollup": "2020-05-07T00:05:00+08:00",
    "settlement": "2020-05-07T00:30:00+08:00",
    "risk_scan": "2020-05-07T00:40:00+08:00",
    "recovery": "2020-05-07T00:50:00+08:00",
    "intraday_refresh": NOW,  # */5: the clock stands on one of its due times
    "expiry_sweep": "2020-05-06T10:02:00+08:00",
    "lottery_draw": NOW,  # every minute: the clock stands on one of its due times
    "send_messages": NOW,  # every minute too
    "housekeeping": "2020-05-07T03:15:00+08:00",
}


# --- helpers --------------------------------------------------------------------------


async def listing(api: Api) -> dict[str, dict[str, Any]]:
    """GET /admin/jobs, by job name (checking the order and names on the way)."""
    _, items = await api.call("GET", JOBS_PATH, headers=api.bureau, expect=200)
    assert [job["name"] for job in items] == [job.name for job in JOBS]
    return {job["name"]: job for job in items}


async def start(api: Api, name: str, body: Any) -> tuple[int, Any]:
    return await api.call("POST", f"{JOBS_PATH}/{name}/runs", json=body, headers=api.bureau)


async def last_run_when_done(api: Api, name: str, period: str) -> dict[str, Any]:
    """Polls the listing until `name` has finished a run for `period` (at most 10 s)."""
    for _ in range(200):
        job = (await listing(api))[name]
        run = job["last_run"]
        if run and run["period"] == period and run["status"] != "running" and not job["running"]:
            return run
        await asyncio.sleep(0.05)
    raise AssertionError(f"{name} did not finish a run for {period}: {job}")


async def run_day(api: Api, name: str, day: date = DAY) -> RunResult:
    return await api.client.app[keys.JOBS].run_day(BY_NAME[name], day, force=True)


@asynccontextmanager
async def connection(api: Api) -> AsyncIterator[asyncpg.Connection]:
    """A connection of its own to the test database, as another process would have."""
    conn = await asyncpg.connect(api.settings.database_url)
    try:
        yield conn
    finally:
        await conn.close()


async def completed_redemption(api: Api) -> None:
    batch = await api.create_batch()
    await api.redeemed(await api.merchant(), batch["id"], 12000, "alice")


# --- GET /admin/jobs ------------------------------------------------------------------


async def test_listing_before_and_after_a_run(api: Api) -> None:
    jobs = await listing(api)
    for spec in JOBS:
        job = jobs[spec.name]
        assert job == {
            "name": spec.name,
            "schedule": spec.schedule,
            "description": spec.description,
            "next_run_at": NEXT_RUN[spec.name],
            "running": False,
            "last_run": None,
        }
        assert datetime.fromisoformat(job["next_run_at"]) >= api.clock.now()

    result = await api.run_job("daily_rollup", DAY)
    run = (await listing(api))["daily_rollup"]["last_run"]
    assert run == {
        "period": "2020-05-06",
        "started_at": NOW,
        "finished_at": NOW,
        "status": "succeeded",
        "rows": result.rows,
        "error": None,
        "attempts": 1,
    }
    assert isinstance(run["rows"], int)


async def test_next_run_follows_the_clock(api: Api) -> None:
    api.clock.advance(hours=14, minutes=10, seconds=30)  # 00:10:30 on 7 May
    jobs = await listing(api)
    assert jobs["daily_rollup"]["next_run_at"] == "2020-05-08T00:05:00+08:00"
    assert jobs["settlement"]["next_run_at"] == "2020-05-07T00:30:00+08:00"
    assert jobs["intraday_refresh"]["next_run_at"] == "2020-05-07T00:15:00+08:00"


# --- POST /admin/jobs/{name}/runs -----------------------------------------------------


async def test_start_a_run_for_a_day(api: Api) -> None:
    status, body = await start(api, "daily_rollup", {"date": "2020-05-06"})
    assert (status, body) == (
        202,
        {"job": "daily_rollup", "date": "2020-05-06", "status": "started"},
    )
    run = await last_run_when_done(api, "daily_rollup", "2020-05-06")
    assert (run["status"], run["error"]) == ("succeeded", None)


async def test_start_a_run_without_a_day_runs_yesterday(api: Api) -> None:
    status, body = await start(api, "settlement", {})
    assert (status, body) == (202, {"job": "settlement", "date": None, "status": "started"})
    run = await last_run_when_done(api, "settlement", "2020-05-05")
    assert run["status"] == "succeeded"


async def test_start_refuses_unknown_jobs_and_bad_bodies(api: Api) -> None:
    status, body = await start(api, "nope", {})
    assert_error(status, body, 404, "not_found")
    for bad in [
        {"date": "2020-13-01"},
        {"date": "06/05/2020"},
        {"date": 20200506},
        {"date": "2020-05-07"},  # tomorrow
        {"day": "2020-05-06"},  # unknown field
        ["2020-05-06"],
    ]:
        status, body = await start(api, "daily_rollup", bad)
        assert_error(status, body, 400, "invalid_request")
    status, body = await api.call(
        "POST", f"{JOBS_PATH}/daily_rollup/runs", data="{", headers=api.bureau
    )
    assert_error(status, body, 400, "invalid_request")
    assert (await listing(api))["daily_rollup"]["last_run"] is None  # nothing ran


async def test_jobs_are_for_the_bureau_only(api: Api) -> None:
    merchant = api.auth("merchant", "m1", 1)
    for method, headers in [("GET", merchant), ("POST", api.auth("resident", "alice"))]:
        path = JOBS_PATH if method == "GET" else f"{JOBS_PATH}/daily_rollup/runs"
        status, body = await api.call(method, path, json={}, headers=headers)
        assert_error(status, body, 403, "forbidden")


async def test_409_while_the_job_runs_anywhere(api: Api) -> None:
    async with connection(api) as other:
        async with other.transaction():
            # Another process is in the middle of a daily_rollup run.
            await other.execute(
                "SELECT pg_advisory_xact_lock($1, hashtext('daily_rollup'))", LOCK_NAMESPACE
            )
            status, body = await start(api, "daily_rollup", {"date": "2020-05-06"})
            assert_error(status, body, 409, "job_running")
            jobs = await listing(api)
            assert {name for name, job in jobs.items() if job["running"]} == {"daily_rollup"}
            status, _ = await start(api, "settlement", {})  # other jobs are free
            assert status == 202
        status, body = await start(api, "daily_rollup", {"date": "2020-05-06"})
        assert status == 202, body
    run = await last_run_when_done(api, "daily_rollup", "2020-05-06")
    assert run["status"] == "succeeded"
    assert not (await listing(api))["daily_rollup"]["running"]


async def test_a_failing_run_is_recorded_with_its_error_then_retried(api: Api) -> None:
    await completed_redemption(api)
    api.clock.advance(days=1)  # 2020-05-06 is over: it can be settled
    async with connection(api) as other:
        await other.execute("ALTER TABLE transfers ADD CONSTRAINT t_fail CHECK (false) NOT VALID")
        result = await run_day(api, "settlement")
        assert result.outcome == "failed"
        assert result.error and "t_fail" in result.error
        failed = (await listing(api))["settlement"]["last_run"]
        assert failed["status"] == "failed"
        assert failed["period"] == "2020-05-06"
        assert isinstance(failed["error"], str) and "t_fail" in failed["error"]
        assert failed["rows"] is None
        assert failed["attempts"] == 1
        await other.execute("ALTER TABLE transfers DROP CONSTRAINT t_fail")
        # Nothing of the failed run was kept: the settlement is made by the retry.
        assert await other.fetchval("SELECT count(*) FROM settlement_lines") == 0

    api.clock.advance(minutes=1)
    result = await api.run_job("settlement", DAY)
    assert (await listing(api))["settlement"]["last_run"] == {
        "period": "2020-05-06",
        "started_at": "2020-05-07T10:01:00+08:00",
        "finished_at": "2020-05-07T10:01:00+08:00",
        "status": "succeeded",
        "rows": 1,
        "error": None,
        "attempts": 2,
    }


# --- the command line -----------------------------------------------------------------


async def test_jobs_commands(api: Api, tmp_path: Path) -> None:
    listed, ran, unknown, frequent, backwards = await asyncio.gather(
        api.cli("jobs", "list"),
        api.cli("jobs", "run", "daily_rollup", "--date", "2020-05-06"),
        api.cli("jobs", "run", "nope"),
        api.cli(
            "jobs", "backfill", "intraday_refresh", "--from", "2020-05-01", "--to", "2020-05-03"
        ),
        api.cli("jobs", "backfill", "settlement", "--from", "2020-05-03", "--to", "2020-05-01"),
    )
    assert listed.returncode == 0, listed.stderr
    assert all(job.name in listed.stdout for job in JOBS), listed.stdout
    assert ran.returncode == 0, ran.stderr
    assert "succeeded" in ran.stdout
    assert unknown.returncode != 0
    assert "nope" in unknown.stderr
    assert frequent.returncode != 0
    assert "not a daily job" in frequent.stderr
    assert backwards.returncode != 0
    assert "--from" in backwards.stderr

    filled = await api.cli(
        "jobs", "backfill", "daily_rollup", "--from", "2020-05-01", "--to", "2020-05-03"
    )
    assert filled.returncode == 0, filled.stderr
    assert "3/3" in filled.stderr
    assert "3 of 3 days succeeded" in filled.stdout
    async with connection(api) as conn:
        periods = await conn.fetch(
            "SELECT period FROM job_runs WHERE job = 'daily_rollup' AND status = 'succeeded'"
        )
    assert sorted(r["period"] for r in periods) == [
        "2020-05-01",
        "2020-05-02",
        "2020-05-03",
        "2020-05-06",
    ]
