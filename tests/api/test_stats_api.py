"""The bureau's numbers over HTTP (API.md: "Stats (bureau)"): daily rows after the rollup, the
festival to date, merchants of a day, baselines and settlement lines, in JSON and CSV.

A small known scenario is played over HTTP on 6 May 2020 (the test clock's day), the jobs are
run in-process, and every figure is checked against what the scenario implies."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from jobs.registry import BY_NAME
from service import keys
from tests.conftest import Api, Merchant, assert_error
from tests.support.downloads import csv_body, csv_rows
from tests.support.stats import DAILY, daily, get

Shop = Merchant  # a merchant, its name and its token headers

SUMMARY = "/api/v1/stats/summary"
MERCHANTS = "/api/v1/stats/merchants"
BASELINES = "/api/v1/admin/baselines"
SETTLEMENTS = "/api/v1/admin/settlements"
MY_SETTLEMENTS = "/api/v1/merchant/settlements"
REDEMPTIONS = "/api/v1/merchant/redemptions"
DAY = date(2020, 5, 6)
NEXT_DAY = date(2020, 5, 7)
NOW = "2020-05-06T10:00:00+08:00"  # the test clock, as the API writes it
CATEGORIES = {"shopping", "dining", "culture_tourism", "auto"}
DAILY_HEADER = (
    "date,category,vouchers_claimed,vouchers_redeemed,vouchers_expired,redemptions_reversed,"
    "subsidy_fen,sales_fen,leverage,redemption_rate,unique_residents,active_merchants,"
    "baseline_sales_fen,recovery_index,computed_at"
)
COUNTS = DAILY_HEADER.split(",")[2:8]  # vouchers_claimed … sales_fen


# --- helpers --------------------------------------------------------------------------


@dataclass
class Scenario:
    shop1: Shop  # shopping: alice 123.45 yuan, and dave's 200 yuan that it reversed
    shop2: Shop  # shopping: bob 150 yuan, carol 100 yuan
    diner: Shop  # dining: alice 80 yuan (erin claimed a dining voucher and kept it)


async def reverse(api: Api, who: Shop, redemption: dict[str, Any]) -> None:
    path = f"{REDEMPTIONS}/{redemption['id']}/reversal"
    await api.call("POST", path, json={"reason": "顾客退货"}, headers=who.headers, expect=200)


async def scenario(api: Api) -> Scenario:
    shopping = await api.create_batch()  # 满100减20
    dining = await api.create_batch(
        category="dining", title="餐饮券 满50减10", face_value_fen=1000, min_spend_fen=5000
    )
    s = Scenario(
        await api.merchant(category="shopping", name="济南远大购物广场"),
        await api.merchant(category="shopping", name="银座商城"),
        await api.merchant(category="dining", name="超意兴快餐"),
    )
    codes = {
        sub: await api.claimed(shopping["id"], sub) for sub in ("alice", "bob", "carol", "dave")
    }
    await api.redeem(s.shop1, codes["alice"], 12345)
    await api.redeem(s.shop2, codes["bob"], 15000)
    await api.redeem(s.shop2, codes["carol"], 10000)
    await reverse(api, s.shop1, await api.redeem(s.shop1, codes["dave"], 20000))
    await api.redeem(s.diner, await api.claimed(dining["id"], "alice"), 8000)
    await api.claimed(dining["id"], "erin")
    return s


async def put_baselines(api: Api, text: str | bytes) -> tuple[int, Any]:
    return await api.put_csv(BASELINES, text)


def baseline_csv(*lines: str) -> str:
    return "\n".join(["date,category,sales_fen", *lines]) + "\n"


def csv_cell(value: Any) -> str:
    return "" if value is None else str(value)


def assert_csv_matches(text: str, items: list[dict[str, Any]], header: str | None = None) -> None:
    """The CSV holds the JSON items, in order, with null as an empty cell."""
    rows = csv_rows(text)
    text = csv_body(text)
    if header is not None:
        assert text.splitlines()[0] == header
    columns = rows[0]
    if items:
        assert set(columns) == set(items[0])
    assert rows[1:] == [[csv_cell(item[c]) for c in columns] for item in items]


def zero_row(category: str) -> dict[str, Any]:
    return {
        "date": "2020-05-06",
        "category": category,
        **dict.fromkeys(COUNTS, 0),
        "leverage": None,
        "redemption_rate": None,
        "unique_residents": 0,
        "active_merchants": 0,
        "baseline_sales_fen": None,
        "recovery_index": None,
        "computed_at": NOW,
    }


SHOPPING_ROW = {
    "date": "2020-05-06",
    "category": "shopping",
    "vouchers_claimed": 4,
    "vouchers_redeemed": 3,
    "vouchers_expired": 0,
    "redemptions_reversed": 1,
    "subsidy_fen": 6000,
    "sales_fen": 37345,
    "leverage": 6.2242,  # 37345 / 6000 = 6.22416…
    "redemption_rate": 0.75,
    "unique_residents": 3,  # alice, bob, carol: dave's redemption was reversed
    "active_merchants": 2,
    "baseline_sales_fen": None,
    "recovery_index": None,
    "computed_at": NOW,
}


# --- /stats/daily ---------------------------------------------------------------------


async def test_daily_rows_after_the_rollup(api: Api) -> None:
    await scenario(api)
    assert await daily(api) == {}  # nothing until the job has run
    await api.run_job("daily_rollup", DAY)
    rows = await daily(api)
    assert set(rows) == CATEGORIES
    assert rows["shopping"] == SHOPPING_ROW
    assert rows["dining"] == {
        **zero_row("dining"),
        "vouchers_claimed": 2,
        "vouchers_redeemed": 1,
        "subsidy_fen": 1000,
        "sales_fen": 8000,
        "leverage": 8.0,
        "redemption_rate": 0.5,
        "unique_residents": 1,
        "active_merchants": 1,
    }
    # Idle categories: zeros, and null (not 0) where a ratio has no denominator.
    assert rows["culture_tourism"] == zero_row("culture_tourism")
    assert rows["auto"] == zero_row("auto")


async def test_redemption_rate_is_cumulative_since_the_start(api: Api) -> None:
    s = await scenario(api)
    await api.run_job("daily_rollup", DAY)
    api.clock.advance(days=1)
    batch = await api.create_batch()
    await api.claimed(batch["id"], "frank")  # claimed, not redeemed
    await api.redeem(s.shop1, await api.claimed(batch["id"], "grace"), 10000)
    await api.run_job("daily_rollup", NEXT_DAY)
    rows = await daily(api, "?from=2020-05-07&to=2020-05-07&category=shopping")
    assert rows["shopping"]["vouchers_claimed"] == 2
    assert rows["shopping"]["vouchers_redeemed"] == 1
    assert rows["shopping"]["redemption_rate"] == round((3 + 1) / (4 + 2), 4)
    assert rows["shopping"]["computed_at"] == "2020-05-07T10:00:00+08:00"


async def test_category_filter(api: Api) -> None:
    await scenario(api)
    await api.run_job("daily_rollup", DAY)
    assert await daily(api, "?from=2020-05-06&to=2020-05-06&category=shopping") == {
        "shopping": SHOPPING_ROW
    }
    assert await daily(api, "?category=shopping") == {"shopping": SHOPPING_ROW}  # to = today


async def test_csv_by_format_or_accept_holds_the_json_rows(api: Api) -> None:
    await scenario(api)
    await api.run_job("daily_rollup", DAY)
    query = "?from=2020-05-06&to=2020-05-06"
    items = (await get(api, DAILY + query))["items"]
    by_format = await api.client.get(DAILY + query + "&format=csv", headers=api.bureau)
    by_accept = await api.client.get(DAILY + query, headers={**api.bureau, "Accept": "text/csv"})
    for resp in (by_format, by_accept):
        assert resp.status == 200
        assert resp.content_type == "text/csv"
        assert_csv_matches(await resp.text(), items, DAILY_HEADER)
    text = await by_format.text()
    assert ",6.2242,0.75,3,2,,," in text  # null baseline and recovery are empty cells


async def test_csv_of_no_rows_is_the_header_alone(api: Api) -> None:
    status, body = await api.call("GET", DAILY + "?format=csv", headers=api.bureau)
    assert status == 200
    assert csv_body(body).splitlines() == [DAILY_HEADER]


async def refused(
    api: Api, path: str, queries: list[str], headers: dict[str, str] | None = None
) -> None:
    """Each query is a 400 invalid_request."""
    for query in queries:
        status, body = await api.call("GET", path + query, headers=headers or api.bureau)
        assert_error(status, body, 400, "invalid_request")


async def test_daily_refuses_bad_queries(api: Api) -> None:
    await refused(
        api,
        DAILY,
        [
            "?from=2020-13-01",
            "?from=2020-05-06&to=2020-02-30",
            "?from=yesterday",
            "?from=2020-05-07&to=2020-05-06",  # from after to
            "?from=2019-05-06&to=2020-05-06",  # 367 days
            "?from=2000-01-01",  # to defaults to today
            "?category=cinema",
            "?format=xml",
            "?colour=red",
        ],
    )
    _, body = await api.call("GET", DAILY + "?from=2019-05-06&to=2020-05-06", headers=api.bureau)
    assert "366 days" in body["error"]["details"]["from"][0]


async def test_a_range_of_exactly_366_days_is_allowed(api: Api) -> None:
    await get(api, DAILY + "?from=2019-05-07&to=2020-05-06")


# --- baselines ------------------------------------------------------------------------


async def test_baseline_gives_recovery_index_and_reupload_replaces_it(api: Api) -> None:
    await scenario(api)
    await api.run_job("daily_rollup", DAY)
    status, body = await put_baselines(api, baseline_csv("2020-05-06,shopping,50000"))
    assert (status, body) == (200, {"rows": 1})
    shopping = (await daily(api))["shopping"]
    assert shopping["baseline_sales_fen"] == 50000
    assert shopping["recovery_index"] == round(37345 / 50000, 4)

    status, body = await put_baselines(
        api, baseline_csv("2020-05-06,shopping,25000", "2020-05-06,dining,4000")
    )
    assert (status, body) == (200, {"rows": 2})
    rows = await daily(api)
    assert (rows["shopping"]["baseline_sales_fen"], rows["shopping"]["recovery_index"]) == (
        25000,
        round(37345 / 25000, 4),
    )
    assert (rows["dining"]["baseline_sales_fen"], rows["dining"]["recovery_index"]) == (4000, 2.0)

    # A baseline of 0 is no denominator: null, not an error.
    await put_baselines(api, baseline_csv("2020-05-06,shopping,0"))
    shopping = (await daily(api))["shopping"]
    assert (shopping["baseline_sales_fen"], shopping["recovery_index"]) == (0, None)


async def test_baseline_with_a_bad_header(api: Api) -> None:
    status, body = await put_baselines(api, "day,category,sales\n2020-05-06,shopping,1\n")
    assert_error(status, body, 400, "invalid_request")
    assert set(body["error"]["details"]["lines"]) == {"1"}


async def test_baseline_errors_name_every_bad_line_and_nothing_is_stored(api: Api) -> None:
    await scenario(api)
    await api.run_job("daily_rollup", DAY)
    text = baseline_csv(
        "2020-05-06,shopping,50000",  # 2: valid
        "2020-02-30,shopping,1",  # 3: no such day
        "2020-05-07,cinema,1",  # 4: no such category
        "2020-05-08,dining,-5",  # 5: negative
        "2020-05-09,dining,12.5",  # 6: not whole fen
        "2020-05-10,dining",  # 7: two fields
        "2020-05-06,shopping,7",  # 8: repeats line 2
        "2020-05-11,auto,100",  # 9: valid
    )
    status, body = await put_baselines(api, text)
    assert_error(status, body, 400, "invalid_request")
    lines = body["error"]["details"]["lines"]
    assert set(lines) == {"3", "4", "5", "6", "7", "8"}
    assert all(
        isinstance(m, list) and m and all(isinstance(x, str) for x in m) for m in lines.values()
    )
    # All or nothing: the valid line 2 was not stored either.
    assert (await daily(api))["shopping"]["baseline_sales_fen"] is None
    status, body = await put_baselines(api, baseline_csv("2020-05-11,auto,100"))
    assert (status, body) == (200, {"rows": 1})
    assert (await daily(api))["shopping"]["baseline_sales_fen"] is None


async def test_baseline_refuses_empty_or_non_utf8_bodies(api: Api) -> None:
    for payload in [
        b"",
        b"date,category,sales_fen\n",  # no rows
        "date,category,sales_fen\n2020-05-06,购物,1\n".encode("gbk"),  # not UTF-8
        b"date,category,sales_fen\n2020-05-06,shopping,\xff\xfe\n",
    ]:
        status, body = await put_baselines(api, payload)
        assert_error(status, body, 400, "invalid_request")


# --- /stats/summary -------------------------------------------------------------------


def sums(rows: list[dict[str, Any]]) -> dict[str, int]:
    return {k: sum(r[k] for r in rows) for k in COUNTS}


async def test_summary_is_the_sum_of_the_daily_rows_today_included(api: Api) -> None:
    s = await scenario(api)
    await api.run_job("daily_rollup", DAY)
    api.clock.advance(days=1)
    batch = await api.create_batch()
    await api.redeem(s.shop2, await api.claimed(batch["id"], "frank"), 30000)
    result = await api.client.app[keys.JOBS].run_now(BY_NAME["intraday_refresh"])
    assert result.outcome == "succeeded", result

    summary = await get(api, SUMMARY)
    items = (await get(api, DAILY + "?from=2020-05-06&to=2020-05-07"))["items"]
    assert {r["date"] for r in items} == {"2020-05-06", "2020-05-07"}  # today is there
    assert (summary["from"], summary["to"]) == ("2020-05-06", "2020-05-07")
    assert summary["computed_at"] == "2020-05-07T10:00:00+08:00"

    by_category = {part["category"]: part for part in summary["categories"]}
    assert set(by_category) == CATEGORIES
    for category, part in by_category.items():
        expected = sums([r for r in items if r["category"] == category])
        assert {k: part[k] for k in COUNTS} == expected, category
    assert {k: summary["overall"][k] for k in COUNTS} == sums(items)

    shopping = by_category["shopping"]
    assert shopping["sales_fen"] == 37345 + 30000
    assert shopping["leverage"] == round(67345 / 8000, 4)
    assert shopping["redemption_rate"] == round(4 / 5, 4)
    for part in (by_category["culture_tourism"], by_category["auto"]):
        assert (part["leverage"], part["redemption_rate"], part["recovery_index"]) == (
            None,
            None,
            None,
        )
    overall = summary["overall"]
    assert overall["leverage"] == round(overall["sales_fen"] / overall["subsidy_fen"], 4)
    assert overall["redemption_rate"] == round(5 / 7, 4)
    assert (overall["baseline_sales_fen"], overall["recovery_index"]) == (None, None)


async def test_summary_before_any_job_has_null_ratios(api: Api) -> None:
    summary = await get(api, SUMMARY)
    assert (summary["from"], summary["to"], summary["computed_at"]) == (None, None, None)
    for part in [*summary["categories"], summary["overall"]]:
        assert {k: part[k] for k in COUNTS} == dict.fromkeys(COUNTS, 0)
        assert (part["leverage"], part["redemption_rate"], part["recovery_index"]) == (
            None,
            None,
            None,
        )


async def test_summary_recovery_against_the_baseline(api: Api) -> None:
    await scenario(api)
    await api.run_job("daily_rollup", DAY)
    await put_baselines(api, baseline_csv("2020-05-06,shopping,50000"))
    summary = await get(api, SUMMARY)
    shopping = next(p for p in summary["categories"] if p["category"] == "shopping")
    assert shopping["baseline_sales_fen"] == 50000
    assert shopping["recovery_index"] == round(37345 / 50000, 4)
    # Overall, recovery compares the sales of the days and categories that have a baseline.
    assert summary["overall"]["baseline_sales_fen"] == 50000
    assert summary["overall"]["recovery_index"] == round(37345 / 50000, 4)


# --- /stats/merchants -----------------------------------------------------------------


MERCHANT_FIGURES = (
    "vouchers_redeemed",
    "redemptions_reversed",
    "subsidy_fen",
    "sales_fen",
    "leverage",
    "unique_residents",
)


def merchant_row(who: Shop, category: str, *figures: Any) -> dict[str, Any]:
    """A merchant's row of 6 May; `figures` in the order of MERCHANT_FIGURES."""
    return {
        "date": "2020-05-06",
        "merchant_id": who.id,
        "merchant_name": who.name,
        "category": category,
        **dict(zip(MERCHANT_FIGURES, figures, strict=True)),
        "computed_at": NOW,
    }


async def test_merchant_rows_of_a_day(api: Api) -> None:
    s = await scenario(api)
    await api.run_job("daily_rollup", DAY)
    shop2 = merchant_row(s.shop2, "shopping", 2, 0, 4000, 25000, 6.25, 2)
    shop1 = merchant_row(s.shop1, "shopping", 1, 1, 2000, 12345, 6.1725, 1)
    diner = merchant_row(s.diner, "dining", 1, 0, 1000, 8000, 8.0, 1)
    assert (await get(api, MERCHANTS + "?date=2020-05-06"))["items"] == [shop2, shop1, diner]
    assert (await get(api, MERCHANTS))["items"] == [shop2, shop1, diner]  # today by default
    assert (await get(api, MERCHANTS + "?date=2020-05-06&category=dining"))["items"] == [diner]
    assert (await get(api, MERCHANTS + "?date=2020-05-05"))["items"] == []

    status, text = await api.call(
        "GET", MERCHANTS + "?date=2020-05-06&format=csv", headers=api.bureau
    )
    assert status == 200
    assert_csv_matches(text, [shop2, shop1, diner])


async def test_merchant_rows_refuse_bad_queries(api: Api) -> None:
    queries = ["?date=2020-02-30", "?date=06/05/2020", "?category=cinema", "?when=today"]
    await refused(api, MERCHANTS, queries)


# --- settlement -----------------------------------------------------------------------


def line(who: Shop, day: str, *, n: int, subsidy: int, adjustments: int = 0) -> dict[str, Any]:
    return {
        "merchant_id": who.id,
        "merchant_name": who.name,
        "date": day,
        "redemptions": n,
        "subsidy_fen": subsidy,
        "adjustments_fen": adjustments,
        "net_fen": subsidy + adjustments,
        "status": "settled",  # moved to the merchant's payable balance
    }


async def lines(api: Api, day: str) -> list[dict[str, Any]]:
    return (await get(api, f"{SETTLEMENTS}?date={day}"))["items"]


async def my_lines(api: Api, who: Shop, query: str = "?from=2020-05-01&to=2020-05-31") -> Any:
    return (await get(api, MY_SETTLEMENTS + query, headers=who.headers))["items"]


async def test_a_day_is_settled_once_over_and_a_straggler_the_next_day(api: Api) -> None:
    s = await scenario(api)
    refused_ = await api.client.app[keys.JOBS].run_day(BY_NAME["settlement"], DAY, force=True)
    assert refused_.outcome == "failed" and "not over" in (refused_.error or "")
    assert await my_lines(api, s.shop1) == []  # mid-day: nothing settled
    # A reversal on the day, before settlement, leaves the line without it.
    batch = await api.create_batch(title="购物券 二")
    late = await api.redeem(s.shop2, await api.claimed(batch["id"], "henry"), 11000)
    await reverse(api, s.shop2, late)
    api.clock.advance(days=1)  # 10:00 on the 7th
    await api.run_job("settlement", DAY)
    await api.run_job("settlement", DAY)  # again: once per (merchant, day)
    at = "2020-05-07T10:00:00+08:00"
    shop1 = {**line(s.shop1, "2020-05-06", n=1, subsidy=2000), "settled_at": at}
    shop2 = {**line(s.shop2, "2020-05-06", n=2, subsidy=4000), "settled_at": at}
    diner = {**line(s.diner, "2020-05-06", n=1, subsidy=1000), "settled_at": at}
    assert [await my_lines(api, w) for w in (s.shop1, s.shop2, s.diner)] == [
        [shop1],
        [shop2],
        [diner],
    ]
    batch = await api.create_batch()
    await api.redeem(s.shop1, await api.claimed(batch["id"], "frank"), 10000)
    api.clock.advance(days=1)
    await api.run_job("settlement", NEXT_DAY)
    at = "2020-05-08T10:00:00+08:00"
    assert await my_lines(api, s.shop1) == [
        shop1,
        {**line(s.shop1, "2020-05-07", n=1, subsidy=2000), "settled_at": at},
    ]
    assert await my_lines(api, s.diner) == [diner]  # nothing to settle on the 7th
    assert await my_lines(api, s.shop1, "?from=2020-05-07&to=2020-05-07") == [
        {**line(s.shop1, "2020-05-07", n=1, subsidy=2000), "settled_at": at}
    ]
    other = await api.merchant(category="shopping", name="无关商户")
    assert await my_lines(api, other) == []


async def test_day_lines_for_the_bureau_unsettled_then_settled(api: Api) -> None:
    s = await scenario(api)
    unsettled = [
        {
            **line(s.shop1, "2020-05-06", n=1, subsidy=2000),
            "status": "unsettled",
            "settled_at": None,
        },
        {
            **line(s.shop2, "2020-05-06", n=2, subsidy=4000),
            "status": "unsettled",
            "settled_at": None,
        },
        {
            **line(s.diner, "2020-05-06", n=1, subsidy=1000),
            "status": "unsettled",
            "settled_at": None,
        },
    ]
    assert await lines(api, "2020-05-06") == unsettled
    api.clock.advance(days=1)
    await api.run_job("settlement", DAY)
    settled = [
        {**x, "status": "settled", "settled_at": "2020-05-07T10:00:00+08:00"} for x in unsettled
    ]
    assert await lines(api, "2020-05-06") == settled
    assert (await get(api, SETTLEMENTS))["items"] == settled  # yesterday by default
    assert await lines(api, "2020-05-07") == []

    status, text = await api.call(
        "GET", f"{SETTLEMENTS}?date=2020-05-06&format=csv", headers=api.bureau
    )
    assert status == 200
    assert_csv_matches(text, settled)


async def test_merchant_settlements_refuse_bad_ranges(api: Api) -> None:
    who = await api.merchant(category="shopping", name="银座商城")
    queries = ["?from=2020-05-07&to=2020-05-06", "?from=2020-02-30", "?from=2019-01-01", "?x=1"]
    await refused(api, MY_SETTLEMENTS, queries, who.headers)
    await refused(api, SETTLEMENTS, ["?date=2020-13-01", "?format=xml"])


# --- roles ----------------------------------------------------------------------------


async def test_roles(api: Api) -> None:
    resident = api.auth("resident", "alice")
    merchant = api.auth("merchant", "m1", 1)
    for method, path, headers in [
        ("GET", DAILY, resident),
        ("GET", SUMMARY, merchant),
        ("GET", MERCHANTS, merchant),
        ("GET", SETTLEMENTS, merchant),
        ("PUT", BASELINES, merchant),
        ("GET", MY_SETTLEMENTS, api.bureau),
        ("GET", MY_SETTLEMENTS, resident),
    ]:
        status, body = await api.call(method, path, headers=headers)
        assert_error(status, body, 403, "forbidden")
