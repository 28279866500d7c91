"""The jobs' numbers equal an independent computation from the raw rows, for random
claims, redemptions and reversals across several days (including 23:59:59 and 00:00:00)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobs.registry import BY_NAME
from jobs.runner import JobRunner
from service.clock import FixedClock
from service.db import Database
from tests.conftest import create_database, drop_database, with_database
from tests.support.scenario import (
    DAY0,
    TZ,
    Op,
    assert_daily_rows_match_raw_rows,
    assert_every_fen_settled,
    at,
    build,
    expected_merchants,
    play,
)

DAYS = 4
seconds = st.one_of(st.sampled_from([0, 1, 86398, 86399, 36000]), st.integers(0, 86399))
ops = st.lists(
    st.builds(
        Op,
        kind=st.sampled_from(
            ["claim", "claim", "claim", "redeem", "redeem", "redeem", "reverse", "reverse"]
        ),
        day=st.integers(0, DAYS - 1),
        second=seconds,
        resident=st.integers(0, 3),
        batch=st.integers(0, 3),
        merchant=st.integers(0, 1),
        extra_fen=st.integers(0, 30000),
    ),
    min_size=30,
    max_size=80,
)
batches = st.lists(
    st.tuples(st.integers(2, 8), st.integers(1, 2), st.integers(1, 2)), min_size=4, max_size=4
)


async def _scenario(server_url: str, template: str, plan: list[Op], shape: list) -> None:
    name = await create_database(server_url, "festival_p", template)
    db = await Database.connect(with_database(server_url, name), min_size=1, max_size=2)
    try:
        world = await build(db, shape, DAYS)
        await db.pool.execute(
            "INSERT INTO baselines (date, category, sales_fen) VALUES ($1, 'shopping', 30000),"
            " ($2, 'dining', 0)",
            DAY0,
            DAY0 + timedelta(days=1),
        )
        await play(world, plan)
        # The nightly jobs, as they would run after the last day (every expiry so far swept).
        clock = FixedClock(at(DAYS, 300))
        runner = JobRunner(db, clock, tz=TZ)
        results = await runner.catch_up(BY_NAME["daily_rollup"], clock.now())
        results += await runner.catch_up(BY_NAME["settlement"], clock.now())
        assert {r.outcome for r in results} == {"succeeded"}, results
        days = [DAY0 + timedelta(days=i) for i in range(DAYS)]

        await assert_daily_rows_match_raw_rows(db, days)

        merchant_rows = await db.pool.fetch("SELECT * FROM stats_daily_merchants")
        got_m = {
            (r["date"].isoformat(), r["merchant_id"]): {
                k: r[k]
                for k in (
                    "vouchers_redeemed",
                    "redemptions_reversed",
                    "subsidy_fen",
                    "sales_fen",
                    "unique_residents",
                )
            }
            for r in merchant_rows
        }
        assert got_m == await expected_merchants(db)

        await assert_every_fen_settled(db)
    finally:
        await db.close()
        await drop_database(server_url, name)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=ops, shape=batches)
def test_rollup_equals_an_independent_computation(
    server_url: str, template_db: str, plan: list[Op], shape: list
) -> None:
    asyncio.run(_scenario(server_url, template_db, plan, shape))
