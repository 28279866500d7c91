"""The drill clock (演练, API.md "Drill clock"): with FESTIVAL_DRILL the festival's business time
is real time plus an offset in the database, which the bureau moves forward only. Every
process follows a move, business rules and jobs follow the festival's clock (jobs skipped by
a jump run as after a scheduler outage), and tokens and login codes keep real time.

These run on the real clock (a DrillClock over the test database): what they assert is
bounded by real instants read around each call, never by how long anything takes."""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from jobs.registry import BY_NAME, JOBS
from jobs.scheduler import DrillScheduler, latest_due
from service import keys
from service.app import create_app
from service.sms import CapturingSmsSender
from tests.conftest import Api, assert_error, assert_invalid
from tests.support.drill import CLOCK, at_ten, festival_day, move, real_now
from tests.support.processes import FESTIVAL, ROOT, festival_env, run_festival

ABOUT = "/api/v1/about"
DAILY = [job.name for job in JOBS if job.daily]
FREQUENT = [job.name for job in JOBS if not job.daily]
PHONE = "13912345678"


def tz_iso(moment: datetime, api: Api) -> str:
    return moment.astimezone(api.settings.tz).isoformat()


async def about_now(api: Api) -> datetime:
    _, body = await api.call("GET", ABOUT, expect=200)
    return datetime.fromisoformat(body["now"])


async def until(check: Callable[[], Awaitable[bool]], what: str, seconds: float = 5.0) -> None:
    """Polls `check` until it holds, for at most `seconds` (a bound, not an expectation)."""
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, f"not within {seconds} s: {what}"
        await asyncio.sleep(0.05)


# --- without a drill ------------------------------------------------------------------


async def test_without_a_drill_about_says_so_and_the_endpoint_is_404(api: Api) -> None:
    _, body = await api.call("GET", ABOUT, expect=200)
    assert body == {
        "name_zh": "春暖槐荫消费节",
        "name_en": "Spring Warmth Huaiyin Consumption Festival",
        "time_zone": "Asia/Shanghai",
        "currency": "CNY",
        "baseline_year": 2019,
        "drill": False,
        "now": "2020-05-06T10:00:00+08:00",  # the test's fixed clock
    }
    for body in ({"to": "2020-05-08T10:00:00+08:00"}, {"to": "not a time"}, {"what": 1}):
        status, answer = await api.call("POST", CLOCK, json=body, headers=api.bureau)
        assert_error(status, answer, 404, "not_found")
    # Who may call it is checked first, as for every bureau endpoint.
    status, answer = await api.call("POST", CLOCK, json={"to": "2020-05-08T10:00:00+08:00"})
    assert_error(status, answer, 401, "unauthorized")
    status, answer = await api.call(
        "POST", CLOCK, json={"to": "2020-05-08T10:00:00+08:00"}, headers=api.auth("resident")
    )
    assert_error(status, answer, 403, "forbidden")


# --- the endpoint -----------------------------------------------------------------------


async def test_about_in_a_drill_tells_the_drill_clock(drill: Api) -> None:
    before = real_now()
    _, body = await drill.call("GET", ABOUT, expect=200)
    after = real_now()
    assert body["drill"] is True
    now = datetime.fromisoformat(body["now"])
    assert now.utcoffset() == timedelta(hours=8)
    assert before <= now <= after  # nothing moved yet: real time


async def test_only_the_bureau_moves_the_clock(drill: Api) -> None:
    to = {"to": (real_now() + timedelta(days=1)).isoformat()}
    status, body = await drill.call("POST", CLOCK, json=to)
    assert_error(status, body, 401, "unauthorized")
    for role, mid in (("resident", None), ("merchant", 7)):
        status, body = await drill.call("POST", CLOCK, json=to, headers=drill.auth(role, mid=mid))
        assert_error(status, body, 403, "forbidden")
    status, body = await drill.call(
        "POST", CLOCK, json=to, headers={"Authorization": "Bearer not-a-token"}
    )
    assert_error(status, body, 401, "unauthorized")
    assert await about_now(drill) <= real_now()  # not moved


async def test_bad_bodies_are_400_and_move_nothing(drill: Api) -> None:
    later = (real_now() + timedelta(days=1)).astimezone(drill.settings.tz)
    cases: list[tuple[Any, str]] = [
        ({}, "to"),
        ({"to": None}, "to"),
        ({"to": later.replace(tzinfo=None).isoformat()}, "to"),  # no offset
        ({"to": later.date().isoformat()}, "to"),  # a day, not a moment
        ({"to": "tomorrow"}, "to"),
        ({"to": 1893456000}, "to"),
        ({"to": [later.isoformat()]}, "to"),
        ({"to": "2100-01-01T08:00:00+08:00"}, "to"),
        ({"to": "1999-12-31T23:59:59+00:00"}, "to"),
        ({"to": later.isoformat(), "by": "me"}, "by"),
    ]
    for body, field in cases:
        status, answer = await drill.call("POST", CLOCK, json=body, headers=drill.bureau)
        assert_invalid(status, answer, field, body)
    for raw in ("{", '["to"]', ""):
        status, answer = await drill.call(
            "POST", CLOCK, data=raw, headers={**drill.bureau, "Content-Type": "application/json"}
        )
        assert_error(status, answer, 400, "invalid_request")
    assert await about_now(drill) <= real_now()
    async with drill.client.app[keys.DB].connection() as conn:
        row = await conn.raw.fetchrow("SELECT offset_us, moved_at FROM drill_clock")
    assert (row["offset_us"], row["moved_at"]) == (0, None)


async def test_moving_forward_moves_the_festivals_now(drill: Api) -> None:
    to = (real_now() + timedelta(days=3, hours=2)).replace(microsecond=0)
    before = real_now()
    _, body = await move(drill, to)
    after = real_now()
    assert set(body) == {"drill", "now", "offset_s", "moved_at"}
    assert body["drill"] is True
    assert body["now"] == tz_iso(to, drill)
    moved_at = datetime.fromisoformat(body["moved_at"])
    assert before <= moved_at <= after  # real time
    assert body["offset_s"] == pytest.approx((to - moved_at).total_seconds(), abs=1e-6)
    # The process that served the move follows it at once, and time goes on from there.
    now = await about_now(drill)
    assert to <= now <= to + (real_now() - before)
    # And forward again.
    to2 = to + timedelta(days=1)
    await move(drill, to2)
    assert await about_now(drill) >= to2


async def test_moving_back_is_409_and_moves_nothing(drill: Api) -> None:
    to = (real_now() + timedelta(days=2)).replace(microsecond=0)
    before = real_now()
    await move(drill, to)
    for back in (to - timedelta(hours=1), to - timedelta(microseconds=1), real_now()):
        status, body = await move(drill, back, expect=None)
        assert_error(status, body, 409, "clock_backwards")
        assert datetime.fromisoformat(body["error"]["details"]["now"]) >= to
    now = await about_now(drill)
    assert to <= now <= to + (real_now() - before)
    async with drill.client.app[keys.DB].connection() as conn:
        moves = await conn.raw.fetchval(
            "SELECT count(*) FROM audit_log WHERE action = 'drill.clock'"
        )
    assert moves == 1  # the refused moves left no entry


async def test_two_moves_at_once_never_leave_the_clock_behind_either(drill: Api) -> None:
    base = real_now() + timedelta(days=1)
    targets = [base + timedelta(hours=h) for h in (5, 1, 4, 2, 3)]
    answers = await asyncio.gather(*(move(drill, t, expect=None) for t in targets))
    statuses = [status for status, _ in answers]
    assert set(statuses) <= {200, 409} and 200 in statuses, answers
    assert answers[0][0] == 200  # the latest target can never be refused
    assert await about_now(drill) >= max(targets)


async def test_a_move_is_on_the_audit_trail(drill: Api) -> None:
    before = await about_now(drill)
    to = (real_now() + timedelta(days=5)).replace(microsecond=0)
    await move(drill, to)
    (entry,) = await drill.audit(action="drill.clock")
    assert entry["actor"] == "bureau-test"
    assert entry["object"] == "drill/clock"
    assert entry["request_id"]
    assert datetime.fromisoformat(entry["before"]["now"]) >= before
    assert datetime.fromisoformat(entry["after"]["now"]) == to
    assert entry["after"]["offset_us"] > entry["before"]["offset_us"] == 0


# --- business rules follow --------------------------------------------------------------


async def test_a_batch_opening_tomorrow_opens_when_the_clock_gets_there(drill: Api) -> None:
    now = await about_now(drill)
    starts = now + timedelta(days=1)
    batch = await drill.create_batch(
        claim_starts_at=starts.isoformat(),
        claim_ends_at=(starts + timedelta(days=1)).isoformat(),
        valid_days=3,
    )
    claim = f"/api/v1/batches/{batch['id']}/claims"
    status, body = await drill.call("POST", claim, headers=drill.auth("resident", "alice"))
    assert_error(status, body, 409, "not_open")
    to = starts + timedelta(hours=1)
    await move(drill, to)
    _, voucher = await drill.call(
        "POST", claim, headers=drill.auth("resident", "alice"), expect=201
    )
    # Its expiry counts from the festival's clock: three days from the drill's now.
    expires = datetime.fromisoformat(voucher["expires_at"])
    assert expires >= to + timedelta(days=3)
    # And past its claim window, the batch has closed.
    await move(drill, starts + timedelta(days=1, minutes=1))
    status, body = await drill.call("POST", claim, headers=drill.auth("resident", "bob"))
    assert_error(status, body, 409, "closed")


async def test_a_move_through_one_process_is_followed_by_another(
    drill: Api, aiohttp_client: Any
) -> None:
    other_app = create_app(settings=drill.settings, sms=CapturingSmsSender())
    other = Api(await aiohttp_client(other_app), drill.settings, other_app[keys.CLOCK], drill.sms)  # type: ignore[arg-type]
    assert other.clock is not drill.clock
    to = (real_now() + timedelta(days=2)).replace(microsecond=0)
    await move(drill, to)

    async def followed() -> bool:
        return await about_now(other) >= to

    await until(followed, "the other process follows the move")
    # And its business rules with it: a batch it serves opens at the drill's time.
    batch = await other.create_batch()  # open from an hour before its clock's now
    await other.call(
        "POST",
        f"/api/v1/batches/{batch['id']}/claims",
        headers=other.auth("resident", "carol"),
        expect=201,
    )


# --- jobs ---------------------------------------------------------------------------------


async def job_runs(api: Api) -> list[asyncpg.Record]:
    async with api.client.app[keys.DB].connection() as conn:
        return await conn.raw.fetch(
            "SELECT job, period, status, attempts FROM job_runs ORDER BY job, period"
        )


async def test_jobs_due_in_a_skipped_span_run_as_after_an_outage(
    drill: Api, aiohttp_client: Any
) -> None:
    day = festival_day(real_now(), drill) + timedelta(days=3)
    await move(drill, at_ten(day, drill))
    await drill.create_batch()  # the festival: from 09:00 that day, vouchers valid 7 days
    scheduler = DrillScheduler(drill.client.app[keys.JOBS])
    await scheduler.tick()  # whatever fell due since it started (a frequent job, at most)

    # A second process, also scheduling, that has followed the clock to day D.
    other_app = create_app(settings=drill.settings, sms=CapturingSmsSender())
    other = Api(await aiohttp_client(other_app), drill.settings, other_app[keys.CLOCK], drill.sms)  # type: ignore[arg-type]

    async def at_day() -> bool:
        return await about_now(other) >= at_ten(day, drill)

    await until(at_day, "the second process follows the clock to day D")
    other_scheduler = DrillScheduler(other_app[keys.JOBS])

    await move(drill, at_ten(day + timedelta(days=2), drill))
    results = await scheduler.tick()
    assert all(r.outcome == "succeeded" for r in results), results
    ran = Counter(r.job for r in results)
    # Daily jobs: every day the jump skipped, D and D+1, once each (housekeeping needs only
    # the latest); frequent jobs: their latest period only.
    assert {name: ran[name] for name in DAILY} == {
        "daily_rollup": 2,
        "settlement": 2,
        "risk_scan": 2,
        "recovery": 2,
        "housekeeping": 1,
    }
    assert {name: ran[name] for name in FREQUENT} == dict.fromkeys(FREQUENT, 1)
    daily_periods = {(r["job"], r["period"]) for r in await job_runs(drill) if r["job"] in DAILY}
    skipped = [day.isoformat(), (day + timedelta(days=1)).isoformat()]
    assert daily_periods == {
        *((name, d) for name in DAILY if name != "housekeeping" for d in skipped),
        ("housekeeping", skipped[1]),
    }
    # The jobs list shows them, and the next due times on the drill's clock.
    _, jobs = await drill.call("GET", "/api/v1/admin/jobs", headers=drill.bureau, expect=200)
    listed = {job["name"]: job for job in jobs}
    assert listed["settlement"]["last_run"]["period"] == skipped[1]
    assert listed["settlement"]["next_run_at"] == tz_iso(
        at_ten(day + timedelta(days=3), drill).replace(hour=0, minute=30), drill
    )

    # The other process's scheduler sees the same due times once it follows: each daily
    # period still ran once.
    async def at_day_two() -> bool:
        return await about_now(other) >= at_ten(day + timedelta(days=2), drill)

    await until(at_day_two, "the second process follows the jump")
    again = await other_scheduler.tick()
    assert [r for r in again if r.job in DAILY and r.outcome == "succeeded"] == []
    assert all(r["attempts"] == 1 for r in await job_runs(drill) if r["job"] in DAILY)


def test_the_latest_due_time_in_a_span() -> None:
    tz = ZoneInfo("Asia/Shanghai")
    d = datetime(2020, 5, 6, 10, 0, tzinfo=tz)
    settlement, draw = BY_NAME["settlement"], BY_NAME["lottery_draw"]
    assert latest_due(settlement, tz, after=d, upto=d + timedelta(hours=1)) is None
    assert latest_due(settlement, tz, after=d, upto=d + timedelta(days=2)) == datetime(
        2020, 5, 8, 0, 30, tzinfo=tz
    )
    # A year's jump: the last one, found without walking the year.
    assert latest_due(draw, tz, after=d, upto=d + timedelta(days=365, seconds=30)) == d + timedelta(
        days=365
    )
    assert latest_due(settlement, tz, after=d, upto=d + timedelta(days=365)) == datetime(
        2021, 5, 6, 0, 30, tzinfo=tz
    )
    # The span is (after, upto]: a due time at its end counts, one at its start does not.
    assert latest_due(draw, tz, after=d, upto=d) is None
    assert latest_due(draw, tz, after=d - timedelta(minutes=1), upto=d) == d
    assert latest_due(draw, tz, after=d, upto=d + timedelta(seconds=59)) is None
    monthly = replace(settlement, schedule="0 3 1 * *")  # sparser than any look-back
    assert latest_due(monthly, tz, after=d, upto=d + timedelta(days=70)) == datetime(
        2020, 7, 1, 3, 0, tzinfo=tz
    )
    assert latest_due(monthly, tz, after=d, upto=d + timedelta(days=20)) is None


async def test_the_scheduler_process_follows_the_drill_clock(drill: Api, tmp_path: Path) -> None:
    """`festival scheduler` in a drill: a jump of two days runs the skipped days' jobs."""
    day = festival_day(real_now(), drill) + timedelta(days=3)
    await move(drill, at_ten(day, drill))
    await drill.create_batch()
    db_url = drill.settings.database_url
    env = festival_env(db_url, tmp_path, FESTIVAL_DRILL="1")
    log = tmp_path / "scheduler.log"
    with log.open("w") as out:
        proc = await asyncio.create_subprocess_exec(
            *FESTIVAL, "scheduler", env=env, cwd=ROOT, stdout=out, stderr=asyncio.subprocess.STDOUT
        )
    conn = await asyncpg.connect(db_url)
    try:

        async def started() -> bool:
            assert proc.returncode is None, log.read_text()
            return "drill scheduler started" in log.read_text()

        await until(started, "the scheduler starts", 60)
        await move(drill, at_ten(day + timedelta(days=2), drill))
        skipped = [day.isoformat(), (day + timedelta(days=1)).isoformat()]

        async def settled() -> bool:
            assert proc.returncode is None, log.read_text()
            periods = await conn.fetch(
                "SELECT period FROM job_runs WHERE job = 'settlement' AND status = 'succeeded'"
            )
            return sorted(r["period"] for r in periods) == skipped

        await until(settled, "the scheduler runs the skipped days' settlement", 60)
    finally:
        await conn.close()
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 30)
    assert proc.returncode == 0, log.read_text()
    assert "Traceback" not in log.read_text()


# --- real time for tokens and login codes -------------------------------------------------


async def test_tokens_and_login_codes_keep_real_time(drill: Api) -> None:
    token = drill.token("bureau")  # issued now, for 8 hours of real time
    await drill.call("POST", "/api/v1/auth/otp", json={"phone": PHONE}, expect=202)
    code = drill.sms.codes[PHONE]  # valid for 5 minutes of real time
    await move(drill, real_now() + timedelta(days=3))
    await drill.call(
        "GET", "/api/v1/admin/jobs", headers={"Authorization": f"Bearer {token}"}, expect=200
    )
    _, body = await drill.call(
        "POST", "/api/v1/auth/resident", json={"phone": PHONE, "code": code}, expect=200
    )
    await drill.call(
        "GET",
        "/api/v1/auth/me",
        headers={"Authorization": f"Bearer {body['access_token']}"},
        expect=200,
    )


# --- settlement only for a day that is over ---------------------------------------------


async def settlement_run(api: Api, day: date) -> tuple[int, Any]:
    return await api.call(
        "POST",
        "/api/v1/admin/jobs/settlement/runs",
        json={"date": day.isoformat()},
        headers=api.bureau,
    )


async def test_settlement_of_a_day_not_yet_over_is_409(api: Api) -> None:
    today = date(2020, 5, 6)  # the test clock's
    for day in (today, today + timedelta(days=1)):
        status, body = await settlement_run(api, day)
        assert_error(status, body, 409, "day_not_over")
        assert body["error"]["details"] == {"date": day.isoformat(), "today": "2020-05-06"}
    async with api.client.app[keys.DB].connection() as conn:
        assert await conn.raw.fetchval("SELECT count(*) FROM audit_log") == 0  # nothing ran
    status, body = await settlement_run(api, today - timedelta(days=1))
    assert (status, body) == (202, {"job": "settlement", "date": "2020-05-05", "status": "started"})
    # Other daily jobs may run for today (a rollup of today so far); tomorrow is still 400.
    status, _ = await api.call(
        "POST",
        "/api/v1/admin/jobs/daily_rollup/runs",
        json={"date": "2020-05-06"},
        headers=api.bureau,
    )
    assert status == 202
    status, body = await api.call(
        "POST",
        "/api/v1/admin/jobs/daily_rollup/runs",
        json={"date": "2020-05-07"},
        headers=api.bureau,
    )
    assert_invalid(status, body, "date")


async def test_a_day_is_over_by_the_drill_clock(drill: Api) -> None:
    day = festival_day(real_now(), drill) + timedelta(days=3)
    await move(drill, at_ten(day, drill))
    status, body = await settlement_run(drill, day)
    assert_error(status, body, 409, "day_not_over")
    await move(drill, at_ten(day + timedelta(days=1), drill))
    status, body = await settlement_run(drill, day)
    assert status == 202, body


async def test_the_command_refuses_a_day_not_yet_over(db_url: str, tmp_path: Path) -> None:
    # Tomorrow (by the real clock, no drill): not over even if midnight passes meanwhile.
    tomorrow = datetime.now(ZoneInfo("Asia/Shanghai")).date() + timedelta(days=1)
    env = festival_env(db_url, tmp_path)
    ran = await asyncio.to_thread(
        run_festival, ["jobs", "run", "settlement", "--date", tomorrow.isoformat()], env
    )
    assert ran.returncode == 2, ran.stderr
    assert "not" in ran.stderr and "Traceback" not in ran.stderr
    conn = await asyncpg.connect(db_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM job_runs") == 0
    finally:
        await conn.close()
