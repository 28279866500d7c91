"""Batches (API.md: "Batches"): administration by the bureau and the public view, over HTTP."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import asyncpg

from tests.conftest import Api, assert_error, assert_invalid, assert_queries_invalid
from tests.support.factories import batch_body

ADMIN = "/api/v1/admin/batches"
PUBLIC = "/api/v1/batches"
REQUIRED = (
    "category",
    "title",
    "face_value_fen",
    "min_spend_fen",
    "quantity",
    "per_resident_limit",
    "claim_starts_at",
    "claim_ends_at",
    "valid_days",
)


def at(api: Api, **delta: float) -> str:
    """An instant relative to the test clock, in UTC (the answers convert it to +08:00)."""
    return (api.clock.now() + timedelta(**delta)).isoformat()


def window(api: Api, starts_in_h: float, ends_in_h: float) -> dict[str, str]:
    return {
        "claim_starts_at": at(api, hours=starts_in_h),
        "claim_ends_at": at(api, hours=ends_in_h),
    }


async def post_batch(api: Api, body: Any) -> tuple[int, Any]:
    return await api.call("POST", ADMIN, json=body, headers=api.bureau)


async def patch_batch(api: Api, batch_id: int | str, body: Any) -> tuple[int, Any]:
    return await api.call("PATCH", f"{ADMIN}/{batch_id}", json=body, headers=api.bureau)


async def get_batch(api: Api, batch_id: int) -> dict[str, Any]:
    _, body = await api.call("GET", f"{PUBLIC}/{batch_id}", expect=200)
    return body


async def list_batches(api: Api, query: str = "") -> list[dict[str, Any]]:
    _, body = await api.call("GET", PUBLIC + query, expect=200)
    return body


async def set_claimed(api: Api, batch_id: int, claimed: int) -> None:
    conn = await asyncpg.connect(api.settings.database_url)
    try:
        await conn.execute("UPDATE batches SET claimed = $1 WHERE id = $2", claimed, batch_id)
    finally:
        await conn.close()


# --- creation -------------------------------------------------------------------------


async def test_create_returns_the_whole_batch(api: Api) -> None:
    # The clock reads 10:00 in Jinan (02:00 UTC); the window is given in UTC.
    body = batch_body(
        api.clock,
        claim_starts_at="2020-05-06T01:00:00+00:00",
        claim_ends_at="2020-05-06T12:30:00Z",
    )
    status, batch = await post_batch(api, body)

    assert status == 201, batch
    assert isinstance(batch["id"], int) and batch["id"] > 0
    assert batch == {
        "id": batch["id"],
        "category": "shopping",
        "title": "购物券 满100减20",
        "face_value_fen": 2000,
        "min_spend_fen": 10000,
        "quantity": 100,
        "remaining": 100,
        "per_resident_limit": 1,
        "claim_starts_at": "2020-05-06T09:00:00+08:00",
        "claim_ends_at": "2020-05-06T20:30:00+08:00",
        "valid_days": 7,
        "valid_until": None,
        "status": "open",
        "paused": False,
        "merchant_ids": [],
        "mode": "first_come",
        "draw_at": None,
        "seed_commitment": None,
        "drawn_at": None,
    }
    assert await get_batch(api, batch["id"]) == batch


async def test_valid_until_is_returned_in_beijing_time(api: Api) -> None:
    batch = await api.create_batch(valid_until="2020-05-31T15:59:59+00:00")
    assert batch["valid_until"] == "2020-05-31T23:59:59+08:00"
    assert datetime.fromisoformat(batch["valid_until"]).utcoffset() == timedelta(hours=8)


async def test_merchant_ids_of_the_category_are_kept_sorted(api: Api) -> None:
    first = (await api.create_merchant(category="dining"))["merchant"]["id"]
    second = (await api.create_merchant(category="dining"))["merchant"]["id"]

    batch = await api.create_batch(category="dining", merchant_ids=[second, first])

    assert batch["merchant_ids"] == [first, second]
    assert (await get_batch(api, batch["id"]))["merchant_ids"] == [first, second]


async def test_unknown_or_other_category_merchants_are_refused(api: Api) -> None:
    diner = (await api.create_merchant(category="dining"))["merchant"]["id"]
    shop = (await api.create_merchant(category="shopping"))["merchant"]["id"]
    for merchant_ids in ([shop, 999999], [diner], [shop, diner], [shop, shop], [0], ["1"]):
        status, body = await post_batch(
            api, batch_body(api.clock, category="shopping", merchant_ids=merchant_ids)
        )
        assert_invalid(status, body, "merchant_ids", merchant_ids)
    assert await list_batches(api) == []


async def test_an_out_of_range_merchant_id_is_invalid_request(api: Api) -> None:
    status, body = await post_batch(api, batch_body(api.clock, merchant_ids=[2**63]))
    assert_invalid(status, body, "merchant_ids")


# --- validation -----------------------------------------------------------------------


async def test_every_missing_field_is_named(api: Api) -> None:
    for field in REQUIRED:
        body = batch_body(api.clock)
        del body[field]
        status, answer = await post_batch(api, body)
        assert_invalid(status, answer, field, field)


async def test_invalid_bodies_are_refused_with_the_field_named(api: Api) -> None:
    starts = at(api, hours=-1)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"claim_ends_at": at(api, hours=-2)}, "claim_ends_at"),  # ends before it starts
        ({"claim_ends_at": starts, "claim_starts_at": starts}, "claim_ends_at"),
        ({"min_spend_fen": 1999}, "min_spend_fen"),  # below face value 2000
        ({"face_value_fen": 2000.5}, "face_value_fen"),
        ({"face_value_fen": 2000.0}, "face_value_fen"),
        ({"min_spend_fen": 10000.0}, "min_spend_fen"),
        ({"face_value_fen": "2000"}, "face_value_fen"),
        ({"min_spend_fen": "10000"}, "min_spend_fen"),
        ({"face_value_fen": 0}, "face_value_fen"),
        ({"face_value_fen": 10**10, "min_spend_fen": 10**10}, "face_value_fen"),
        ({"quantity": True}, "quantity"),
        ({"per_resident_limit": False}, "per_resident_limit"),
        ({"valid_days": True}, "valid_days"),
        ({"quantity": -1}, "quantity"),
        ({"quantity": None}, "quantity"),
        ({"per_resident_limit": 0}, "per_resident_limit"),
        ({"per_resident_limit": 101}, "per_resident_limit"),
        ({"valid_days": 0}, "valid_days"),
        ({"claim_starts_at": "2020-05-06T09:00:00"}, "claim_starts_at"),  # naive
        ({"claim_ends_at": "2020-05-07"}, "claim_ends_at"),  # a date, not an instant
        ({"claim_ends_at": "tomorrow"}, "claim_ends_at"),
        ({"claim_starts_at": 1588730400}, "claim_starts_at"),
        ({"valid_until": "2020-05-31T23:59:59"}, "valid_until"),
        ({"valid_until": at(api, hours=-2)}, "valid_until"),  # before the window opens
        ({"category": "food"}, "category"),
        ({"title": ""}, "title"),
        ({"title": 20}, "title"),
        ({"merchant_ids": 1}, "merchant_ids"),
        ({"remaining": 100}, "remaining"),  # not settable
        ({"status": "open"}, "status"),
        ({"paused": False}, "paused"),
        ({"discount": 1}, "discount"),
    ]
    for override, field in cases:
        status, body = await post_batch(api, batch_body(api.clock, **override))
        assert_invalid(status, body, field, override)
    assert await list_batches(api) == []


async def test_a_blank_title_is_invalid_request(api: Api) -> None:
    status, body = await post_batch(api, batch_body(api.clock, title="   "))
    assert_invalid(status, body, "title")


# --- status over time -----------------------------------------------------------------


async def test_status_follows_the_clock_and_the_pause(api: Api) -> None:
    batch = await api.create_batch(**window(api, 2, 5), quantity=10)
    assert (batch["status"], batch["paused"]) == ("scheduled", False)

    api.clock.advance(hours=3)
    assert (await get_batch(api, batch["id"]))["status"] == "open"

    status, paused = await patch_batch(api, batch["id"], {"paused": True})
    assert status == 200, paused
    assert (paused["status"], paused["paused"]) == ("scheduled", True)
    assert (await get_batch(api, batch["id"]))["status"] == "scheduled"
    assert await list_batches(api, "?status=open") == []

    status, resumed = await patch_batch(api, batch["id"], {"paused": False})
    assert status == 200, resumed
    assert (resumed["status"], resumed["paused"]) == ("open", False)

    api.clock.advance(hours=2)  # exactly the end: claims have closed
    assert (await get_batch(api, batch["id"]))["status"] == "closed"
    api.clock.advance(hours=1)
    assert (await get_batch(api, batch["id"]))["status"] == "closed"


async def test_no_stock_inside_the_window_is_sold_out(api: Api) -> None:
    batch = await api.create_batch(quantity=0)
    assert (batch["status"], batch["quantity"], batch["remaining"]) == ("sold_out", 0, 0)
    assert [b["id"] for b in await list_batches(api, "?status=sold_out")] == [batch["id"]]


# --- the public view ------------------------------------------------------------------


async def test_public_list_puts_open_batches_first_and_filters(api: Api) -> None:
    closed = await api.create_batch(title="已结束", **window(api, -10, -1))
    scheduled = await api.create_batch(title="未开始", **window(api, 1, 10))
    sold_out = await api.create_batch(title="已抢光", quantity=0)
    shop_open = await api.create_batch(title="购物", **window(api, -2, 10))
    dining_open = await api.create_batch(title="餐饮", category="dining", **window(api, -1, 10))

    listed = await list_batches(api)  # no token: public
    assert [b["id"] for b in listed] == [
        shop_open["id"],
        dining_open["id"],
        scheduled["id"],
        sold_out["id"],
        closed["id"],
    ]
    assert [b["status"] for b in listed] == ["open", "open", "scheduled", "sold_out", "closed"]
    assert listed[0] == shop_open

    async def ids(query: str) -> list[int]:
        return [b["id"] for b in await list_batches(api, query)]

    assert await ids("?category=dining") == [dining_open["id"]]
    assert await ids("?status=open") == [shop_open["id"], dining_open["id"]]
    assert await ids("?status=closed") == [closed["id"]]
    assert await ids("?status=scheduled&category=shopping") == [scheduled["id"]]
    assert await ids("?status=open&category=auto") == []


async def test_public_list_refuses_bad_filters(api: Api) -> None:
    bad = "?status=paused ?status=OPEN ?status= ?category=food ?page=1"
    await assert_queries_invalid(api, PUBLIC, bad)


async def test_public_get_one_or_not_found(api: Api) -> None:
    batch = await api.create_batch()
    assert await get_batch(api, batch["id"]) == batch
    for missing in ("999999", "abc", "1.0", "-1", "9" * 30):
        status, body = await api.call("GET", f"{PUBLIC}/{missing}")
        assert_error(status, body, 404, "not_found")


# --- changes --------------------------------------------------------------------------


async def test_quantity_grows_and_shrinks_no_lower_than_claimed(api: Api) -> None:
    batch = await api.create_batch(quantity=100)

    status, grown = await patch_batch(api, batch["id"], {"quantity": 150})
    assert status == 200, grown
    assert (grown["quantity"], grown["remaining"], grown["status"]) == (150, 150, "open")

    await set_claimed(api, batch["id"], 5)
    assert (await get_batch(api, batch["id"]))["remaining"] == 145

    status, body = await patch_batch(api, batch["id"], {"quantity": 3})
    assert_invalid(status, body, "quantity")
    assert (await get_batch(api, batch["id"]))["quantity"] == 150

    status, shrunk = await patch_batch(api, batch["id"], {"quantity": 5})
    assert status == 200, shrunk
    assert (shrunk["quantity"], shrunk["remaining"], shrunk["status"]) == (5, 0, "sold_out")
    assert {k: v for k, v in shrunk.items() if k not in ("quantity", "remaining", "status")} == {
        k: v for k, v in batch.items() if k not in ("quantity", "remaining", "status")
    }


async def test_claim_end_can_move_but_not_before_the_start(api: Api) -> None:
    batch = await api.create_batch(
        claim_starts_at="2020-05-06T01:00:00+00:00", claim_ends_at="2020-05-06T12:00:00+00:00"
    )
    for ends in ("2020-05-06T00:00:00+00:00", "2020-05-06T09:00:00+08:00"):  # before, equal
        status, body = await patch_batch(api, batch["id"], {"claim_ends_at": ends})
        assert_invalid(status, body, "claim_ends_at", ends)

    status, moved = await patch_batch(
        api, batch["id"], {"claim_ends_at": "2020-05-07T14:00:00+00:00"}
    )
    assert status == 200, moved
    assert moved["claim_ends_at"] == "2020-05-07T22:00:00+08:00"
    assert moved["claim_starts_at"] == "2020-05-06T09:00:00+08:00"

    status, ended = await patch_batch(api, batch["id"], {"claim_ends_at": at(api, minutes=-1)})
    assert status == 200, ended
    assert ended["status"] == "closed"


async def test_patch_refuses_bad_bodies_and_unknown_batches(api: Api) -> None:
    batch = await api.create_batch()
    for patch, field in [
        ({}, "_schema"),
        ({"paused": "yes"}, "paused"),
        ({"paused": 1}, "paused"),
        ({"paused": None}, "paused"),
        ({"quantity": -1}, "quantity"),
        ({"quantity": 5.0}, "quantity"),
        ({"quantity": "5"}, "quantity"),
        ({"claim_ends_at": "2020-05-07T12:00:00"}, "claim_ends_at"),
        ({"title": "新标题"}, "title"),  # not changeable
        ({"face_value_fen": 1000}, "face_value_fen"),
    ]:
        status, body = await patch_batch(api, batch["id"], patch)
        assert_invalid(status, body, field, patch)
    assert await get_batch(api, batch["id"]) == batch

    for missing in (999999, "abc"):
        status, body = await patch_batch(api, missing, {"paused": True})
        assert_error(status, body, 404, "not_found")


# --- roles ----------------------------------------------------------------------------


async def test_only_the_bureau_may_create_or_change_batches(api: Api) -> None:
    batch = await api.create_batch()
    routes: list[tuple[str, str, Any]] = [
        ("POST", ADMIN, batch_body(api.clock)),
        ("PATCH", f"{ADMIN}/{batch['id']}", {"paused": True}),
    ]
    outsiders = [
        ({}, 401, "unauthorized"),
        ({"Authorization": "Bearer not-a-token"}, 401, "unauthorized"),
        (api.auth("resident"), 403, "forbidden"),
        (api.auth("merchant", mid=1), 403, "forbidden"),
    ]
    for method, path, body in routes:
        for headers, expected, code in outsiders:
            status, answer = await api.call(method, path, json=body, headers=headers)
            assert status == expected, (method, path, headers, answer)
            assert_error(status, answer, expected, code)

    assert await list_batches(api) == [batch]
