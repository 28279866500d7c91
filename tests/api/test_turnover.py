"""Turnover in (a merchant's 日结, the bureau's imports) and the recovery estimate out: baseline
days aligned by ISO week and weekday, difference in differences, a bootstrap interval that
holds a known effect and narrows with more merchants, and nulls where data are missing."""

from __future__ import annotations

import random
import uuid
from datetime import date, timedelta
from typing import Any

from service import keys
from service.credit_code import random_huaiyin_code
from service.domain import recovery
from tests.conftest import Api, assert_error, assert_invalid, assert_queries_invalid
from tests.support.downloads import csv_body
from tests.support.money import export, with_account
from tests.support.shops import batch, redeem, settle
from tests.support.turnover import RECOVERY, TURNOVER, csv_of


def code(rng: random.Random | None = None) -> str:
    r = rng or random.Random(uuid.uuid4().int)
    return random_huaiyin_code(r)


async def test_a_merchant_reports_its_day_and_may_correct_it_until_paid(api: Api) -> None:
    shop = await api.merchant(category="dining")
    created, mid, me = shop.created, shop.id, shop.headers
    path = "/api/v1/merchant/turnover/2020-05-06"
    _, day = await api.call(
        "PUT", path, json={"sales_fen": 1_234_500, "transactions": 210}, headers=me, expect=200
    )
    assert (day["credit_code"], day["category"], day["source"]) == (
        created["merchant"]["credit_code"],
        "dining",
        "merchant",
    )
    _, day = await api.call("PUT", path, json={"sales_fen": 1_300_000}, headers=me, expect=200)
    assert (day["sales_fen"], day["transactions"]) == (1_300_000, None)
    _, mine = await api.call("GET", "/api/v1/merchant/turnover", headers=me, expect=200)
    assert [(d["date"], d["sales_fen"]) for d in mine["items"]] == [("2020-05-06", 1_300_000)]
    for bad in ({"sales_fen": -1}, {"sales_fen": 1.5}, {"sales_fen": "100"}, {}):
        assert_invalid(*await api.call("PUT", path, json=bad, headers=me), "sales_fen")
    # Tomorrow; not a date; a baseline-year day (the bureau's import) or one before it.
    for wrong in (
        "2020-05-07",
        "2020-13-01",
        "0001-01-01",
        "yesterday",
        "2019-05-03",
        "2005-05-03",
    ):
        status, body = await api.call(
            "PUT", f"/api/v1/merchant/turnover/{wrong}", json={"sales_fen": 1}, headers=me
        )
        assert_error(status, body, 400, "invalid_request")
    for role in ("resident", "bureau"):
        status, body = await api.call("PUT", path, json={"sales_fen": 1}, headers=api.auth(role))
        assert_error(status, body, 403, "forbidden")
    # Once the day is settled and paid out in a bank file, the day's takings are final.
    b = await batch(api, category="dining", face_value_fen=1000, min_spend_fen=5000)
    await with_account(api, mid, "6222020200112233445")
    await redeem(api, shop, b, "r-turnover", 5000)
    await settle(api, date(2020, 5, 6))
    await api.call("PUT", path, json={"sales_fen": 2}, headers=me, expect=200)  # not paid yet
    await export(api)
    status, body = await api.call("PUT", path, json={"sales_fen": 1}, headers=me)
    assert_error(status, body, 409, "conflict")


async def test_imports_refuse_bad_lines_and_store_nothing(api: Api) -> None:
    shop = (await api.create_merchant(category="shopping"))["merchant"]
    other = code()
    good = [
        ("2019-05-03", other, "dining", 500_000),
        ("2019-05-04", other, "dining", 520_000),
        ("2020-05-01", shop["credit_code"], "shopping", 800_000),
    ]
    wrong_check = shop["credit_code"][:-1] + ("0" if shop["credit_code"][-1] != "0" else "1")
    cases = {
        "wrong check character": (wrong_check, "2020-05-01", "shopping", "800000"),
        "not the merchant's category": (shop["credit_code"], "2020-05-02", "dining", "800000"),
        "negative": (other, "2019-05-05", "dining", "-5"),
        "absurd": (other, "2019-05-06", "dining", str(520_000 * 101)),
        "outside the data's years": (other, "2018-05-03", "dining", "500000"),
    }
    for what, (c, d, k, s) in cases.items():
        status, body = await api.put_csv(TURNOVER, csv_of(good) + f"{d},{c},{k},{s}\n")
        assert_error(status, body, 400, "invalid_request")
        assert list(body["error"]["details"]["lines"]) == ["5"], (what, body)
    status, body = await api.put_csv(
        TURNOVER, csv_of(good) + "2020-05-02,only,three\n" + f"2019-05-03,{other},dining,1\n"
    )
    assert_error(status, body, 400, "invalid_request")
    assert sorted(body["error"]["details"]["lines"]) == ["5", "6"]  # broken, and a repeat
    status, body = await api.put_csv(TURNOVER, "day,code,sales\n")
    assert_error(status, body, 400, "invalid_request")
    async with api.client.app[keys.DB].connection() as conn:
        assert await conn.raw.fetchval("SELECT count(*) FROM turnover") == 0  # nothing stored
    status, stored = await api.put_csv(TURNOVER, csv_of(good))
    assert (status, stored) == (200, {"rows": 3})
    trail = await api.audit(action="turnover.import")
    assert trail[0]["after"]["rows"] == 3


async def test_recovery_compares_weekday_aligned_days_and_says_null_when_data_are_missing(
    api: Api,
) -> None:
    shop = (await api.create_merchant(category="shopping"))["merchant"]["credit_code"]
    outside = code()
    rows = [
        # 2020-05-01 is a Friday: its baseline day is Friday 2019-05-03, not 2019-05-01.
        ("2019-05-01", shop, "shopping", 999_999),
        ("2019-05-03", shop, "shopping", 100_000),
        ("2020-05-01", shop, "shopping", 90_000),
        ("2019-05-03", outside, "shopping", 200_000),
        ("2020-05-01", outside, "shopping", 160_000),
        # 2 May: the festival merchant reported, the comparison merchant did not.
        ("2019-05-04", shop, "shopping", 100_000),
        ("2020-05-02", shop, "shopping", 95_000),
    ]
    assert (await api.put_csv(TURNOVER, csv_of(rows)))[0] == 200
    _, report = await api.call(
        "GET",
        RECOVERY,
        params={"from": "2020-05-01", "to": "2020-05-02", "category": "shopping"},
        headers=api.bureau,
        expect=200,
    )
    first, second = report["items"]
    assert first == {
        "date": "2020-05-01",
        "category": "shopping",
        "participants_sales_fen": 90_000,
        "participants_baseline_fen": 100_000,
        "participants_index": 0.9,
        "comparison_sales_fen": 160_000,
        "comparison_baseline_fen": 200_000,
        "comparison_index": 0.8,
        "incremental_index": 0.1,
        "incremental_sales_fen": 10_000,
        "ci_low": None,  # one merchant a side: no interval to draw
        "ci_high": None,
        "merchants_reporting": 1,
        "comparison_reporting": 1,
    }
    assert (second["participants_index"], second["comparison_index"]) == (0.95, None)
    assert second["incremental_index"] is None and second["incremental_sales_fen"] is None
    assert (second["merchants_reporting"], second["comparison_reporting"]) == (1, 0)
    (total,) = report["totals"]
    assert total["date"] is None and total["participants_sales_fen"] == 185_000
    assert total["comparison_sales_fen"] == 160_000  # only its paired day
    status, text = await api.call(
        "GET", RECOVERY, params={"category": "shopping", "format": "csv"}, headers=api.bureau
    )
    assert status == 200 and csv_body(text).splitlines()[0].startswith(
        "date,category,participants_"
    )
    # The nightly job keeps the festival to date for the summary.
    await api.run_job("recovery", date(2020, 5, 2))
    _, summary = await api.call("GET", "/api/v1/stats/summary", headers=api.bureau, expect=200)
    (kept,) = [r for r in summary["recovery"] if r["category"] == "shopping"]
    assert (kept["from"], kept["to"], kept["incremental_index"]) == (
        "2020-05-01",
        "2020-05-02",
        total["incremental_index"],
    )


async def test_the_interval_holds_a_known_effect_and_narrows_with_more_merchants(
    api: Api,
) -> None:
    rng = random.Random(5)
    effect = 0.12
    rows = []
    participants, comparison = [], []
    for i in range(80):
        participant = i < 40
        c = code(rng)
        level = rng.lognormvariate(12, 0.6)
        if participant:
            participants.append(c)
            await _merchant_with_code(api, c)
        else:
            comparison.append(c)
        for n in range(14):
            day = date(2020, 5, 1) + timedelta(days=n)
            base = date.fromisocalendar(2019, *day.isocalendar()[1:])
            recovered = 0.8 + 0.01 * n + (effect if participant else 0.0)
            rows.append((base.isoformat(), c, "dining", round(level * rng.uniform(0.85, 1.15))))
            rows.append(
                (day.isoformat(), c, "dining", round(level * recovered * rng.uniform(0.85, 1.15)))
            )
    assert (await api.put_csv(TURNOVER, csv_of(rows)))[0] == 200
    db = api.client.app[keys.DB]
    last = date(2020, 5, 14)
    full = await recovery.compute(
        db, date(2020, 5, 1), last=last, category="dining", baseline_year=2019
    )
    (total,) = full.totals
    assert total["merchants_reporting"] == 40 and total["comparison_reporting"] == 40
    assert total["ci_low"] < effect < total["ci_high"], total
    assert abs(total["incremental_index"] - effect) < 0.05
    fewer = await recovery.compute(
        db,
        date(2020, 5, 1),
        last=last,
        category="dining",
        baseline_year=2019,
        only={*participants[:10], *comparison[:10]},
    )
    (small,) = fewer.totals
    assert small["merchants_reporting"] == 10
    assert total["ci_high"] - total["ci_low"] < small["ci_high"] - small["ci_low"]


async def _merchant_with_code(api: Api, credit_code: str) -> None:
    from tests.support.factories import merchant_body

    await api.call(
        "POST",
        "/api/v1/admin/merchants",
        json=merchant_body(category="dining", credit_code=credit_code),
        headers=api.bureau,
        expect=201,
    )


async def test_bad_recovery_queries_are_400(api: Api) -> None:
    await assert_queries_invalid(
        api,
        RECOVERY,
        "?category=cars ?from=2020-5-1 ?to=9999-01-01 ?format=pdf ?page=2",
        headers=api.bureau,
    )
    status, body = await api.call(
        "GET", RECOVERY, params={"from": "2020-01-01", "to": "2021-12-31"}, headers=api.bureau
    )
    assert_invalid(status, body, "from")  # longer than a request may span


async def test_recovery_answers_the_range_asked_when_from_is_after_the_data(api: Api) -> None:
    """`from` later than the last day with data (and yesterday), `to` left out: the range is
    that day, not silently another one."""
    resp = await api.client.get(
        RECOVERY, params={"from": "2020-06-01", "format": "csv"}, headers=api.bureau
    )
    assert resp.status == 200
    assert "festival-recovery-2020-06-01-2020-06-01.csv" in resp.headers["Content-Disposition"]


async def test_a_day_reported_far_from_the_festival_never_stretches_the_default_range(
    api: Api,
) -> None:
    """The tester's 2nd: a merchant may report any day up to today, so the recovery's default
    span grew past what a request may cover and the bulletin's default answered 400. The
    default is the festival's days with data, up to yesterday."""
    batch = await api.create_batch()  # claims on the 6th, vouchers valid 7 days
    merchant = await api.merchant(category="shopping")
    shop, me = merchant.created["merchant"]["credit_code"], merchant.headers
    rows = [("2019-05-08", shop, "shopping", 100_000), ("2020-05-06", shop, "shopping", 90_000)]
    assert (await api.put_csv(TURNOVER, csv_of(rows)))[0] == 200
    api.clock.advance(days=800)  # two years on, the merchant reports its takings of today
    today = api.clock.now().astimezone(api.settings.tz).date()
    await api.call(
        "PUT",
        f"/api/v1/merchant/turnover/{today}",
        json={"sales_fen": 80_000},
        headers=me,
        expect=200,
    )
    resp = await api.client.get(RECOVERY, params={"format": "csv"}, headers=api.bureau)
    assert resp.status == 200, await resp.text()
    # The festival's days with data up to yesterday: the batch runs on past the 6th, but the
    # range ends on the last day with data (issue 25), not on the batch's last day.
    last = date.fromisoformat(batch["claim_ends_at"][:10]) + timedelta(days=7)
    assert last > date(2020, 5, 6)
    assert "festival-recovery-2020-05-06-2020-05-06.csv" in resp.headers["Content-Disposition"]
    # Given `from` alone, `to` stays within a request's span of it.
    status, _ = await api.call(
        "GET", RECOVERY, params={"from": "2020-05-06"}, headers=api.bureau, expect=200
    )
    assert status == 200


async def test_a_merchant_cannot_rewrite_the_districts_recovery(api: Api) -> None:
    """The tester's 1st: a planted merchant's report of 10,000,000 yuan for a day replaced the
    bureau's imported tax figure, and shopping's index went from 0.88 to 7.07. Now the two
    are kept apart, recovery uses the import, and an implausible report is refused."""
    merchant = await api.merchant(category="shopping")
    mid, shop, me = merchant.id, merchant.created["merchant"]["credit_code"], merchant.headers
    rows = [
        ("2019-05-08", shop, "shopping", 100_000),
        ("2019-05-09", shop, "shopping", 100_000),
        ("2020-05-05", shop, "shopping", 90_000),
        ("2020-05-06", shop, "shopping", 88_000),
    ]
    assert (await api.put_csv(TURNOVER, csv_of(rows)))[0] == 200

    async def index() -> Any:
        _, report = await api.call(
            "GET",
            RECOVERY,
            params={"from": "2020-05-06", "to": "2020-05-06", "category": "shopping"},
            headers=api.bureau,
            expect=200,
        )
        return report["items"][0]["participants_index"]

    assert await index() == 0.88
    path = "/api/v1/merchant/turnover/2020-05-06"
    status, body = await api.call("PUT", path, json={"sales_fen": 1_000_000_000}, headers=me)
    assert_error(status, body, 400, "implausible")
    # A plausible report is stored beside the import, never over it.
    _, mine = await api.call("PUT", path, json={"sales_fen": 95_000}, headers=me, expect=200)
    assert mine["source"] == "merchant"
    assert await index() == 0.88
    _, listed = await api.call("GET", "/api/v1/merchant/turnover", headers=me, expect=200)
    assert [(d["date"], d["source"], d["sales_fen"]) for d in listed["items"]][-2:] == [
        ("2020-05-06", "import", 88_000),
        ("2020-05-06", "merchant", 95_000),
    ]
    # Each report is on the audit trail, by the merchant; the refused one is not.
    (entry,) = await api.audit(actor=f"merchant:{mid}")
    assert (entry["action"], entry["object"]) == ("turnover.report", f"turnover/{shop}/2020-05-06")
    assert entry["before"] is None and entry["after"]["sales_fen"] == 95_000


async def test_bad_turnover_requests_get_their_documented_errors(api: Api) -> None:
    me = (await api.merchant(category="dining")).headers
    mine = "/api/v1/merchant/turnover"
    await assert_queries_invalid(
        api, mine, "?from=2020-5-1 ?to=2020-13-01 ?from=1999-12-31 ?page=2", headers=me
    )
    status, body = await api.call(
        "GET", mine, params={"from": "2020-05-07", "to": "2020-05-06"}, headers=me
    )
    assert_invalid(status, body, "from")  # after to
    status, body = await api.call(
        "GET", mine, params={"from": "2019-01-01", "to": "2020-05-06"}, headers=me
    )
    assert_invalid(status, body, "from")  # longer than a request may span
    day = f"{mine}/2020-05-06"
    for bad, field in (
        ({"sales_fen": 100, "transactions": -1}, "transactions"),
        ({"sales_fen": 100, "transactions": "5"}, "transactions"),
        ({"sales_fen": 100, "tips_fen": 5}, "tips_fen"),
    ):
        assert_invalid(*await api.call("PUT", day, json=bad, headers=me), field, bad)
    for path, method in ((mine, "GET"), (day, "PUT")):
        status, body = await api.call(method, path, json={"sales_fen": 1})
        assert_error(status, body, 401, "unauthorized")
        status, body = await api.call(method, path, json={"sales_fen": 1}, headers=api.bureau)
        assert_error(status, body, 403, "forbidden")
    # The bureau's import: each bad cell is named by its line, and nothing is stored.
    good = code()
    status, body = await api.put_csv(
        TURNOVER,
        csv_of(
            [
                ("2020-13-01", good, "dining", 100),
                ("2020-05-06", good, "cars", 100),
                ("2020-05-06", good, "dining", "abc"),  # type: ignore[list-item]
            ]
        ),
    )
    assert_invalid(status, body, "lines")
    assert set(body["error"]["details"]["lines"]) == {"2", "3", "4"}, body
