"""The auditor's races, each run with its two transactions interleaved for certain: one is
stopped half-way on a lock the test holds (the audit trail's append lock, a merchant's or a
voucher's row), the other is started and seen waiting in pg_stat_activity, then the first is
let go. Never a sleep and luck.

Before the ledger each of these lost or doubled money: a settlement committing beside a
confirm left the line payable while the merchant was held; beside a release a line stayed
held with no flag holding it; two flags of one merchant confirmed and released together left
lines in the wrong state; a clawback and a same-day reversal recovered the same subsidy twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from datetime import datetime, time, timedelta
from typing import Any

from jobs.registry import BY_NAME
from jobs.runner import JobRunner
from service import keys
from service.clock import FixedClock
from service.domain.audit import LOCK_NAMESPACE as AUDIT_LOCK
from tests.conftest import Api, assert_error
from tests.support.money import (
    EXPORTS,
    balances,
    export,
    file_rows,
    returns,
    verified,
    with_account,
)
from tests.support.races import holding, started, waiting
from tests.support.shops import CLEAR, DAY, FLAGS, Shop, batch, redeem, scan, series, settle, shop


def audit_appends(api: Api) -> Any:
    """Every bureau write stops at its audit entry, its work done but not committed."""
    return holding(api, "SELECT pg_advisory_xact_lock($1::int, 0)", AUDIT_LOCK)


async def call(api: Api, method: str, path: str, **kw: Any) -> tuple[int, Any]:
    return await api.call(method, path, **kw)


async def flagged(api: Api, merchant: Shop, batch_id: int) -> int:
    """An open burst flag on the merchant's 20 redemptions of today (count rules are open at
    once); returns its id."""

    await series(api, merchant, batch_id, [CLEAR] * 20, every_minutes=0.3)
    await scan(api, intraday=True)
    _, found = await api.call(
        "GET", FLAGS, params={"merchant_id": merchant.id}, headers=api.bureau, expect=200
    )
    return int(found["items"][0]["id"])


def review(api: Api, flag_id: int, decision: str = "confirm") -> Awaitable[tuple[int, Any]]:
    return call(
        api,
        "POST",
        f"{FLAGS}/{flag_id}/review",
        json={"decision": decision, "note": "核实"},
        headers=api.bureau,
    )


def release(api: Api, flag_id: int, clawback: bool) -> Awaitable[tuple[int, Any]]:
    return call(
        api,
        "POST",
        f"{FLAGS}/{flag_id}/release",
        json={"clawback": clawback, "note": "解除"},
        headers=api.bureau,
    )


def exporting(api: Api, key: str | None = None) -> Awaitable[tuple[int, Any]]:
    headers = {**api.bureau, "Idempotency-Key": key or uuid.uuid4().hex}
    return call(api, "POST", EXPORTS, json={}, headers=headers)


async def owed_merchant(api: Api) -> tuple[Shop, int]:
    """A merchant with an account and a settled day: 400.00 payable, and a batch."""
    b = await batch(api, quantity=1000)
    m = await shop(api)
    await with_account(api, m.id, "6222020200112233445")
    return m, b


async def test_an_export_never_pays_a_merchant_whose_hold_committed_before_it(api: Api) -> None:
    m, b = await owed_merchant(api)
    flag = await flagged(api, m, b)
    await settle(api, DAY)
    assert (await balances(api, m.id))["payable"] == 40_000
    async with audit_appends(api):
        confirming = started(review(api, flag))  # holds the merchant, not committed
        await waiting(api, 1)
        paying = started(exporting(api))  # waits for the merchant's lock
        await waiting(api, 2)
    assert (await confirming)[0] == 200
    status, made = await paying
    assert status == 201, made
    assert made["rows"] == 0
    assert made["left_out"] == [{"merchant_id": m.id, "reason": "held", "balance_fen": 40_000}]
    await verified(api)


async def test_a_release_committed_before_an_export_makes_its_money_payable(api: Api) -> None:
    m, b = await owed_merchant(api)
    flag = await flagged(api, m, b)
    await settle(api, DAY)
    assert (await review(api, flag))[0] == 200
    async with audit_appends(api):
        releasing = started(release(api, flag, clawback=False))
        await waiting(api, 1)
        paying = started(exporting(api))
        await waiting(api, 2)
    assert (await releasing)[0] == 200
    status, made = await paying
    assert status == 201 and made["rows"] == 1 and made["total_fen"] == 40_000, made
    assert (await balances(api, m.id))["payable"] == 0
    await verified(api)


async def test_two_flags_of_one_merchant_confirmed_and_released_together(api: Api) -> None:
    """Release one flag while another of the same merchant is being confirmed: the merchant
    stays held by the second, whichever commits first."""

    b = await batch(api, quantity=1000, per_resident_limit=5)
    m = await shop(api)
    await with_account(api, m.id, "6222020200112233445")
    for _ in range(3):  # one person, three vouchers at one merchant: a repeat pair
        await redeem(api, m, b, "alice", CLEAR)
    await series(api, m, b, [CLEAR] * 20, every_minutes=0.3)  # and a burst
    await scan(api, intraday=True)  # both count rules: open at once
    _, found = await api.call(
        "GET", FLAGS, params={"merchant_id": m.id}, headers=api.bureau, expect=200
    )
    first, second = (f["id"] for f in found["items"])
    await settle(api, DAY)
    assert (await review(api, first))[0] == 200
    async with audit_appends(api):
        releasing = started(release(api, first, clawback=False))
        await waiting(api, 1)
        confirming = started(review(api, second))
        await waiting(api, 2)
    assert (await releasing)[0] == 200 and (await confirming)[0] == 200
    made = await export(api)
    assert made["rows"] == 0 and [x["reason"] for x in made["left_out"]] == ["held"]
    _, released = await release(api, second, clawback=False)
    assert released["still_held"] is False
    made = await export(api)
    assert made["rows"] == 1 and made["total_fen"] == 23 * 2000
    await verified(api)


async def confirmed_burst(api: Api) -> tuple[Shop, int, int]:
    """A merchant with a confirmed burst flag on today's 20 redemptions: the merchant, the
    flag, and the first flagged redemption."""
    m, b = await owed_merchant(api)
    flag = await flagged(api, m, b)
    assert (await review(api, flag))[0] == 200
    _, found = await api.call("GET", f"{FLAGS}?merchant_id={m.id}", headers=api.bureau)
    return m, flag, int(found["items"][0]["evidence"]["redemption_ids"][0])


async def test_a_reversal_in_flight_beats_the_clawback_that_waits_for_it(api: Api) -> None:
    m, flag, first_id = await confirmed_burst(api)
    voucher = await api.client.app[keys.DB].pool.fetchval(
        "SELECT voucher_id FROM redemptions WHERE id = $1", first_id
    )
    path = f"/api/v1/merchant/redemptions/{first_id}/reversal"
    async with holding(api, "SELECT 1 FROM vouchers WHERE id = $1 FOR UPDATE", voucher):
        reversing = started(call(api, "POST", path, json={"reason": "退货"}, headers=m.headers))
        await waiting(api, 1)  # holds the merchant, waits for the voucher
        clawing = started(release(api, flag, clawback=True))
        await waiting(api, 2)  # waits for the merchant
    assert (await reversing)[0] == 200
    status, released = await clawing
    assert status == 200
    assert released["clawed_back_redemptions"] == 19 and released["clawed_back_fen"] == 38_000
    await settle(api, DAY)
    assert await balances(api, m.id) == {"unsettled": 0, "payable": 0}
    await verified(api)


async def test_a_clawback_in_flight_beats_the_reversal_that_waits_for_it(api: Api) -> None:
    m, flag, first_id = await confirmed_burst(api)
    path = f"/api/v1/merchant/redemptions/{first_id}/reversal"
    async with audit_appends(api):
        clawing = started(release(api, flag, clawback=True))
        await waiting(api, 1)
        reversing = started(call(api, "POST", path, json={"reason": "退货"}, headers=m.headers))
        await waiting(api, 2)
    assert (await clawing)[1]["clawed_back_redemptions"] == 20
    assert_error(*await reversing, 409, "already_clawed_back")
    await settle(api, DAY)
    assert await balances(api, m.id) == {"unsettled": 0, "payable": 0}
    await verified(api)


def night_runner(api: Api) -> JobRunner:
    at = datetime.combine(DAY + timedelta(days=1), time(0, 30), api.settings.tz)
    return JobRunner(
        api.client.app[keys.DB], FixedClock(at), tz=api.settings.tz, risk=api.settings.risk
    )


async def test_a_reversal_committed_before_settlement_is_not_settled(api: Api) -> None:
    m, b = await owed_merchant(api)
    done = await series(api, m, b, [CLEAR] * 3)
    api.clock.advance(hours=13, minutes=50)  # 23:50 in Jinan, still the 6th
    voucher = await api.client.app[keys.DB].pool.fetchval(
        "SELECT voucher_id FROM redemptions WHERE id = $1", done[0]["id"]
    )
    path = f"/api/v1/merchant/redemptions/{done[0]['id']}/reversal"
    async with holding(api, "SELECT 1 FROM vouchers WHERE id = $1 FOR UPDATE", voucher):
        reversing = started(call(api, "POST", path, json={"reason": "退货"}, headers=m.headers))
        await waiting(api, 1)
        settling = started(night_runner(api).run_day(BY_NAME["settlement"], DAY, force=True))
        await waiting(api, 2)
    assert (await reversing)[0] == 200
    assert (await settling).outcome == "succeeded"
    assert await balances(api, m.id) == {"unsettled": 0, "payable": 4000}
    await verified(api)


async def test_a_reversal_after_its_days_settlement_is_refused(api: Api) -> None:
    m, b = await owed_merchant(api)
    done = await series(api, m, b, [CLEAR] * 3)
    last = await shop(api)  # the highest merchant id: settlement locks it last
    api.clock.advance(hours=13, minutes=50)
    path = f"/api/v1/merchant/redemptions/{done[0]['id']}/reversal"
    async with holding(api, "SELECT 1 FROM merchants WHERE id = $1 FOR UPDATE", last.id):
        settling = started(night_runner(api).run_day(BY_NAME["settlement"], DAY, force=True))
        await waiting(api, 1)  # holds every merchant up to `last`
        reversing = started(call(api, "POST", path, json={"reason": "退货"}, headers=m.headers))
        await waiting(api, 2)
    assert (await settling).outcome == "succeeded"
    assert_error(*await reversing, 409, "reversal_window_passed")
    assert await balances(api, m.id) == {"unsettled": 0, "payable": 6000}
    await verified(api)


async def test_two_exports_at_once_pay_each_balance_once(api: Api) -> None:
    m, b = await owed_merchant(api)
    await series(api, m, b, [CLEAR] * 5)
    await settle(api, DAY)
    async with audit_appends(api):
        first = started(exporting(api, "first"))
        await waiting(api, 1)
        second = started(exporting(api, "second"))  # another key: waits for the merchant
        same = started(exporting(api, "first"))  # the same key: waits for the first
        await waiting(api, 3)
    (s1, one), (s2, two), (s3, again) = await first, await second, await same
    assert (s1, s2, s3) == (201, 201, 201)
    assert (one["rows"], one["total_fen"], two["rows"], two["total_fen"]) == (1, 10_000, 0, 0)
    assert again == one
    assert len(await file_rows(api, one["id"])) == 1
    await verified(api)


async def test_two_return_files_answer_a_payment_once(api: Api) -> None:
    m, b = await owed_merchant(api)
    await series(api, m, b, [CLEAR] * 2)
    await settle(api, DAY)
    made = await export(api)
    (row,) = await file_rows(api, made["id"])
    async with audit_appends(api):
        paid = started(returns(api, f"reference,status\n{row['reference']},paid\n"))
        await waiting(api, 1)
        failed = started(returns(api, f"reference,status\n{row['reference']},failed\n"))
        await waiting(api, 2)
    assert (await paid)[0] == 200
    assert_error(*await failed, 409, "already_returned")
    assert (await balances(api, m.id))["payable"] == 0
    body = await verified(api)
    assert body["checks"]["totals"]["paid_fen"] == 4000
