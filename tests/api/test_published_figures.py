"""Every field someone other than the bureau writes that feeds a figure the bureau publishes,
held against a single actor (issue 22's sweep after the tester's 1st finding):

- a merchant's own takings (recovery): within 100 × its median day, a median the merchant
  cannot raise by its own reports where the bureau has imported its days;
- a merchant's order amounts (sales, 拉动比): each voucher's completed order counted once,
  whatever the merchant replays, reverses and redeems again, or sends at once;
- a resident's claims (vouchers claimed, residents) and lottery entries (the draw's
  entries): one person counts once, whatever accounts and `pid`s it comes with.

The paths the tester used are tested where they were fixed (test_turnover, test_resident_
binding); these are the rest of the class."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from tests.conftest import REDEMPTIONS, Api, assert_error
from tests.support.lottery import ENTRIES, lottery_batch
from tests.support.persons import claim, platform_token
from tests.support.shops import DAY
from tests.support.stats import daily
from tests.support.turnover import RECOVERY, TURNOVER, csv_of


async def test_a_merchants_own_reports_never_widen_what_it_may_report(api: Api) -> None:
    """Where the bureau imported a merchant's days, its reports are held against their median:
    reporting 90 × three days running used to make the next 9,000 × plausible."""
    merchant = await api.merchant(category="shopping")
    credit, me = merchant.created["merchant"]["credit_code"], merchant.headers
    baseline = [(f"2019-05-0{d}", credit, "shopping", 100_000) for d in (5, 6, 7, 8)]
    assert (await api.put_csv(TURNOVER, csv_of(baseline)))[0] == 200
    for day in ("2020-05-03", "2020-05-04", "2020-05-05"):
        path = f"/api/v1/merchant/turnover/{day}"
        await api.call("PUT", path, json={"sales_fen": 9_000_000}, headers=me, expect=200)
    path = "/api/v1/merchant/turnover/2020-05-06"
    status, body = await api.call("PUT", path, json={"sales_fen": 900_000_000}, headers=me)
    assert_error(status, body, 400, "implausible")
    # Up to 100 × the imported median is the contract's bound, and it holds.
    await api.call("PUT", path, json={"sales_fen": 10_000_000}, headers=me, expect=200)
    status, _ = await api.call("PUT", path, json={"sales_fen": 10_000_001}, headers=me)
    assert status == 400
    _, report = await api.call(
        "GET",
        RECOVERY,
        params={"from": "2020-05-06", "to": "2020-05-06", "category": "shopping"},
        headers=api.bureau,
        expect=200,
    )
    assert report["items"][0]["participants_index"] == 100.0  # the bound, no more


async def test_an_import_is_held_against_imported_days_not_the_merchants_reports(
    api: Api,
) -> None:
    merchant = await api.merchant(category="shopping")
    credit, me = merchant.created["merchant"]["credit_code"], merchant.headers
    baseline = [(f"2019-05-0{d}", credit, "shopping", 100_000) for d in (6, 7, 8)]
    assert (await api.put_csv(TURNOVER, csv_of(baseline)))[0] == 200
    for day in ("2020-05-04", "2020-05-05", "2020-05-06"):
        path = f"/api/v1/merchant/turnover/{day}"
        await api.call("PUT", path, json={"sales_fen": 9_000_000}, headers=me, expect=200)
    status, body = await api.put_csv(
        TURNOVER, csv_of([("2020-05-06", credit, "shopping", 50_000_000)])
    )
    assert status == 400 and "2" in body["error"]["details"]["lines"], body


async def redeem(api: Api, headers: dict[str, str], code: str, order: int, key: str) -> Any:
    body = {"code": code, "order_amount_fen": order, "order_ref": "POS-1"}
    return await api.call(
        "POST", REDEMPTIONS, json=body, headers={**headers, "Idempotency-Key": key}
    )


async def test_a_merchant_counts_each_vouchers_order_once_in_the_published_sales(
    api: Api,
) -> None:
    """One merchant with one voucher: replays, reverse-and-redeem cycles and a burst of
    redemptions with fresh keys leave the day's sales at the last completed order only."""
    batch = await api.create_batch(quantity=10)  # shopping 满100减20
    merchant = await api.merchant(category="shopping", name="嫌疑商户")
    code = await api.claimed(batch["id"], "r1")
    for cycle in range(5):
        status, redemption = await redeem(api, merchant.headers, code, 1_000_000_000, f"k{cycle}")
        assert status == 201
        for _ in range(3):  # replays answer the same and count nothing
            assert await redeem(api, merchant.headers, code, 1_000_000_000, f"k{cycle}") == (
                201,
                redemption,
            )
        reversal = f"{REDEMPTIONS}/{redemption['id']}/reversal"
        await api.call("POST", reversal, json={"reason": "退货"}, headers=merchant.headers)
    answers = await asyncio.gather(
        *(redeem(api, merchant.headers, code, 12_345, uuid.uuid4().hex) for _ in range(100))
    )
    assert sorted(s for s, _ in answers) == [201] + [409] * 99
    # Another category's voucher is not the merchant's to count.
    dining = await api.create_batch(
        category="dining", title="餐饮券 满50减10", face_value_fen=1000, min_spend_fen=5000
    )
    path = f"/api/v1/batches/{dining['id']}/claims"
    _, other = await api.call("POST", path, headers=api.auth("resident", "r2"), expect=201)
    status, body = await redeem(api, merchant.headers, other["code"], 1_000_000_000, "k-dining")
    assert_error(status, body, 409, "merchant_not_eligible")

    await api.run_job("daily_rollup", DAY)
    rows = await daily(api)
    assert (rows["shopping"]["sales_fen"], rows["shopping"]["subsidy_fen"]) == (12_345, 2_000)
    assert rows["shopping"]["vouchers_redeemed"] == 1
    assert rows["shopping"]["redemptions_reversed"] == 5
    assert rows["dining"]["sales_fen"] == 0
    _, summary = await api.call("GET", "/api/v1/stats/summary", headers=api.bureau, expect=200)
    shopping = next(c for c in summary["categories"] if c["category"] == "shopping")
    assert shopping["sales_fen"] == 12_345


async def test_one_person_counts_once_in_claims_and_entries_whatever_it_comes_with(
    city: tuple[Api, rsa.RSAPrivateKey],
) -> None:
    """Three accounts of one person, one of them also trying a second `pid` and none: the
    day's vouchers claimed and residents, and the draw's entries, count the person once."""
    api, key = city
    batch = await api.create_batch(quantity=50, per_resident_limit=1)
    lottery = await lottery_batch(api)
    tokens = [platform_token(key, f"acct-{n}", "the-person") for n in range(3)]
    tokens += [platform_token(key, "acct-0", "someone-else"), platform_token(key, "acct-0", None)]
    claimed = await asyncio.gather(*(claim(api, batch["id"], t) for t in tokens * 20))
    assert sorted(s for s, _ in claimed) == [201] + [401] * 20 + [409] * 79
    entered = await asyncio.gather(
        *(
            api.call(
                "POST", ENTRIES.format(lottery["id"]), headers={"Authorization": f"Bearer {t}"}
            )
            for t in tokens * 20
        )
    )
    assert sorted(s for s, _ in entered) == [200] * 79 + [201] + [401] * 20
    _, draw = await api.call("GET", f"/api/v1/batches/{lottery['id']}/draw", expect=200)
    assert draw["entries"] == 1
    await api.run_job("daily_rollup", DAY)
    rows = await daily(api)
    assert (rows["shopping"]["vouchers_claimed"], rows["shopping"]["unique_residents"]) == (1, 0)
