"""Money across days, rehearsed on the drill clock (演练) as the bureau would before launch:
days pass by moving the clock, the scheduler runs what fell due as after an outage, and the
bank files, returns, statements and verify follow — nothing waits and no row is edited."""

from __future__ import annotations

from datetime import timedelta

from jobs.scheduler import DrillScheduler
from service import keys
from tests.conftest import Api
from tests.support.drill import at_ten, festival_day, move, real_now
from tests.support.money import balances, export, file_rows, returns, verified, with_account
from tests.support.shops import CLEAR, redeem, reverse, shop


async def test_three_days_of_money_in_a_drill(drill: Api) -> None:
    day = festival_day(real_now(), drill) + timedelta(days=3)
    await move(drill, at_ten(day, drill))
    scheduler = DrillScheduler(drill.client.app[keys.JOBS])
    await scheduler.tick()
    ends = (drill.clock.now() + timedelta(days=5)).isoformat()
    b = int((await drill.create_batch(quantity=100, valid_days=10, claim_ends_at=ends))["id"])
    paid, bounced = await shop(drill), await shop(drill)
    await with_account(drill, paid.id, "6222020200112233445")
    await with_account(drill, bounced.id, "6217000010001234567")
    first = [await redeem(drill, paid, b, f"p{i}", CLEAR) for i in range(3)]
    await reverse(drill, paid, first[0])
    for i in range(2):
        await redeem(drill, bounced, b, f"b{i}", CLEAR)

    # Day 1: the night's jobs run when the clock passes them; the morning's file pays both.
    await move(drill, at_ten(day + timedelta(days=1), drill))
    ran = {r.job: r.outcome for r in await scheduler.tick()}
    assert ran["settlement"] == "succeeded" and ran["risk_scan"] == "succeeded"
    assert await balances(drill, paid.id) == {"unsettled": 0, "payable": 4000}
    made = await export(drill)
    rows = {r["merchant_id"]: r for r in await file_rows(drill, made["id"])}
    assert {m: r["amount_yuan"] for m, r in rows.items()} == {
        str(paid.id): "40.00",
        str(bounced.id): "40.00",
    }
    status, _ = await returns(
        drill,
        "reference,status\n"
        f"{rows[str(paid.id)]['reference']},paid\n"
        f"{rows[str(bounced.id)]['reference']},failed\n",
    )
    assert status == 200
    await redeem(drill, bounced, b, "b9", CLEAR)

    # Day 2: the failed payment and the new day's subsidy go out together, under a new
    # reference.
    await move(drill, at_ten(day + timedelta(days=2), drill))
    assert {r.job: r.outcome for r in await scheduler.tick()}["settlement"] == "succeeded"
    again = await export(drill)
    (row,) = await file_rows(drill, again["id"])
    assert (row["merchant_id"], row["amount_yuan"]) == (str(bounced.id), "60.00")
    assert row["reference"] != rows[str(bounced.id)]["reference"]
    _, statement = await drill.call(
        "GET", "/api/v1/merchant/statement", headers=bounced.headers, expect=200
    )
    by_day = {d["date"]: d for d in statement["items"]}
    failed_day = (day + timedelta(days=1)).isoformat()
    assert by_day[failed_day]["returned_failed_fen"] == 4000
    assert by_day[(day + timedelta(days=2)).isoformat()]["paid_out_fen"] == 6000
    body = await verified(drill)
    assert body["checks"]["totals"]["paid_fen"] == 4000
    assert body["checks"]["totals"]["in_transit_fen"] == 6000
