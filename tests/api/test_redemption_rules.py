"""Redemption (核销) and reversal (API.md: "Redemption (核销) and reversal (merchant)"), one
request at a time: the cashier preview, every outcome of a redemption, idempotent retries, the
lookups after a timeout, and reversal within the business day."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest

from service.domain.codes import new_code
from tests.conftest import Api, Merchant, assert_error

PREVIEW = "/api/v1/merchant/vouchers"
REDEMPTIONS = "/api/v1/merchant/redemptions"
NOW = "2020-05-06T10:00:00+08:00"  # the test clock, as the API writes it
EMPTY = {"items": [], "totals": {"count": 0, "order_amount_fen": 0, "discount_fen": 0}}


Cashier = Merchant  # a merchant and its token headers


# --- helpers --------------------------------------------------------------------------


async def cashier(api: Api, category: str = "shopping") -> Cashier:
    return await api.merchant(category=category)


async def voucher(api: Api, sub: str = "alice", **batch: Any) -> dict[str, Any]:
    """A fresh voucher claimed by `sub` from a new batch (defaults: shopping, 满100减20)."""
    created = await api.create_batch(**batch)
    _, body = await api.call(
        "POST",
        f"/api/v1/batches/{created['id']}/claims",
        headers=api.auth("resident", sub),
        expect=201,
    )
    return body


async def in_wallet(api: Api, code: str, sub: str = "alice") -> dict[str, Any]:
    _, body = await api.call(
        "GET", f"/api/v1/me/vouchers/{code}", headers=api.auth("resident", sub), expect=200
    )
    return body


async def preview(api: Api, who: Cashier, value: str) -> tuple[int, Any]:
    return await api.call("GET", f"{PREVIEW}/{value}", headers=who.headers)


async def redeem(
    api: Api,
    who: Cashier,
    code: str,
    order: Any = 12000,
    *,
    key: str | None = None,
    ref: str = "POS-0001",
) -> tuple[int, Any]:
    body = {"code": code, "order_amount_fen": order, "order_ref": ref}
    headers = {**who.headers, "Idempotency-Key": key or uuid.uuid4().hex}
    return await api.call("POST", REDEMPTIONS, json=body, headers=headers)


async def redeemed(api: Api, who: Cashier, code: str, **kw: Any) -> dict[str, Any]:
    status, body = await redeem(api, who, code, **kw)
    assert status == 201, body
    return body


async def reverse(api: Api, who: Cashier, redemption_id: Any, **body: Any) -> tuple[int, Any]:
    body = body or {"reason": "顾客退货"}
    path = f"{REDEMPTIONS}/{redemption_id}/reversal"
    return await api.call("POST", path, json=body, headers=who.headers)


async def listing(api: Api, who: Cashier, query: str) -> dict[str, Any]:
    _, body = await api.call("GET", REDEMPTIONS + query, headers=who.headers, expect=200)
    return body


async def set_merchant_status(api: Api, who: Cashier, status: str) -> None:
    await api.call(
        "PATCH",
        f"/api/v1/admin/merchants/{who.id}",
        json={"status": status},
        headers=api.bureau,
        expect=200,
    )


def mistyped(code: str) -> str:
    i = 5
    return code[:i] + ("2" if code[i] != "2" else "3") + code[i + 1 :]


# --- preview --------------------------------------------------------------------------


async def test_preview_by_typed_code_dashed_lowercase_or_qr(api: Api) -> None:
    v = await voucher(api)
    shop = await cashier(api)
    code = v["code"]
    expected = {
        "code": code,
        "category": "shopping",
        "face_value_fen": 2000,
        "min_spend_fen": 10000,
        "status": "active",
        "expires_at": v["expires_at"],
        "redeemable": True,
    }
    dashed = f"{code[:4]}-{code[4:9]}-{code[9:]}".lower()
    for value in (code, code.lower(), dashed, v["qr"]):
        status, body = await preview(api, shop, value)
        assert (status, body) == (200, expected), value
        assert not {"resident", "resident_id", "sub", "phone"} & set(body)


async def test_preview_of_a_mistyped_code_or_forged_qr_is_404(api: Api) -> None:
    v = await voucher(api)
    shop = await cashier(api)
    prefix, code, signature = v["qr"].split(".")
    forged = f"{prefix}.{code}.{signature[:-1]}{'A' if signature[-1] != 'A' else 'B'}"
    for value in (mistyped(v["code"]), forged, new_code()):
        assert_error(*await preview(api, shop, value), 404, "not_found")


async def test_preview_reasons(api: Api) -> None:
    listed, unlisted = await cashier(api), await cashier(api)
    diner = await cashier(api, "dining")
    open_voucher = await voucher(api)
    only_listed = await voucher(api, merchant_ids=[listed.id])

    async def reason(who: Cashier, code: str) -> str | None:
        _, body = await api.call("GET", f"{PREVIEW}/{code}", headers=who.headers, expect=200)
        assert body["redeemable"] is (body.get("reason") is None), body
        return body.get("reason")

    assert await reason(diner, open_voucher["code"]) == "merchant_not_eligible"
    assert await reason(unlisted, only_listed["code"]) == "merchant_not_eligible"
    assert await reason(listed, only_listed["code"]) is None
    assert await reason(unlisted, open_voucher["code"]) is None

    await set_merchant_status(api, unlisted, "suspended")
    assert await reason(unlisted, open_voucher["code"]) == "merchant_inactive"

    await redeemed(api, listed, open_voucher["code"])
    assert await reason(listed, open_voucher["code"]) == "already_redeemed"


# --- redemption -----------------------------------------------------------------------


async def test_redemption_returns_the_whole_redemption(api: Api) -> None:
    v = await voucher(api)
    shop = await cashier(api)

    body = await redeemed(api, shop, v["code"], order=12345, ref="POS-42")

    assert isinstance(body["id"], int)
    assert body == {
        "id": body["id"],
        "code": v["code"],
        "merchant_id": shop.id,
        "category": "shopping",
        "order_amount_fen": 12345,
        "discount_fen": 2000,
        "payable_fen": 10345,
        "order_ref": "POS-42",
        "status": "completed",
        "redeemed_at": NOW,
        "reversed_at": None,
        "reversal_reason": None,
        "checkout_id": None,  # one voucher by `code`
        "cashier_id": None,  # the merchant's owner login
        "cashier_name": None,
        "metadata": None,
    }
    after = await in_wallet(api, v["code"])
    assert (after["status"], after["redeemed_at"]) == ("redeemed", NOW)


async def test_redemption_by_scanned_qr(api: Api) -> None:
    v = await voucher(api)
    body = await redeemed(api, await cashier(api), v["qr"])
    assert body["code"] == v["code"]


async def test_min_spend_boundary(api: Api) -> None:
    v = await voucher(api)
    shop = await cashier(api)
    status, body = await redeem(api, shop, v["code"], 9999)
    assert_error(status, body, 409, "below_min_spend")
    assert (await in_wallet(api, v["code"]))["status"] == "active"

    assert (await redeemed(api, shop, v["code"], order=10000))["payable_fen"] == 8000


async def test_redemption_refusals(api: Api) -> None:
    shop, other_shop, diner = await cashier(api), await cashier(api), await cashier(api, "dining")
    suspended = await cashier(api)
    await set_merchant_status(api, suspended, "suspended")
    used = await voucher(api)
    await redeemed(api, shop, used["code"])
    fresh = await voucher(api)
    listed_only = await voucher(api, merchant_ids=[shop.id])
    short = await voucher(api, valid_until=(api.clock.now() + timedelta(hours=1)).isoformat())
    api.clock.advance(hours=1)

    cases = [
        (other_shop, used["code"], 409, "already_redeemed"),
        (shop, short["code"], 409, "expired"),
        (diner, fresh["code"], 409, "merchant_not_eligible"),
        (other_shop, listed_only["code"], 409, "merchant_not_eligible"),
        (suspended, fresh["code"], 409, "merchant_inactive"),
        (shop, new_code(), 404, "not_found"),
        (shop, mistyped(fresh["code"]), 404, "not_found"),
    ]
    for who, code, status, error in cases:
        assert_error(*await redeem(api, who, code), status, error)
    assert (await in_wallet(api, fresh["code"]))["status"] == "active"
    assert (await in_wallet(api, listed_only["code"]))["status"] == "active"


async def test_idempotency_key_header_is_required_and_at_most_64_chars(api: Api) -> None:
    v = await voucher(api)
    shop = await cashier(api)
    body = {"code": v["code"], "order_amount_fen": 12000, "order_ref": "POS-1"}

    status, error = await api.call("POST", REDEMPTIONS, json=body, headers=shop.headers)
    assert_error(status, error, 400, "invalid_request")
    assert_error(*await redeem(api, shop, v["code"], key="k" * 65), 400, "invalid_request")
    assert (await in_wallet(api, v["code"]))["status"] == "active"
    await redeemed(api, shop, v["code"], key="k" * 64)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"order_amount_fen": 12000.0}, "order_amount_fen"),
        ({"order_amount_fen": "12000"}, "order_amount_fen"),
        ({"order_amount_fen": 0}, "order_amount_fen"),
        ({"order_ref": None}, "order_ref"),
        ({"tip_fen": 100}, "tip_fen"),
    ],
)
async def test_redemption_body_validation(api: Api, change: dict[str, Any], field: str) -> None:
    v = await voucher(api)
    shop = await cashier(api)
    body = {"code": v["code"], "order_amount_fen": 12000, "order_ref": "POS-1", **change}
    body = {k: value for k, value in body.items() if value is not None}  # None: leave it out
    headers = {**shop.headers, "Idempotency-Key": uuid.uuid4().hex}

    status, error = await api.call("POST", REDEMPTIONS, json=body, headers=headers)
    assert_error(status, error, 400, "invalid_request")
    assert field in error["error"]["details"], error
    assert (await in_wallet(api, v["code"]))["status"] == "active"


async def test_retry_with_the_same_key_replays_the_201(api: Api) -> None:
    v = await voucher(api)
    shop = await cashier(api)
    first = await redeem(api, shop, v["code"], key="checkout-1")
    assert first[0] == 201

    assert await redeem(api, shop, v["code"], key="checkout-1") == first
    assert await redeem(api, shop, v["qr"], key="checkout-1") == first  # the same voucher
    assert (await listing(api, shop, ""))["items"] == [first[1]]

    status, body = await redeem(api, shop, v["code"], 13000, key="checkout-1")
    assert_error(status, body, 409, "idempotency_key_reused")


async def test_retry_of_a_refusal_replays_it_even_after_the_cause_changed(api: Api) -> None:
    v = await voucher(api)
    shop = await cashier(api)
    below = await redeem(api, shop, v["code"], 9999, key="small")
    assert_error(*below, 409, "below_min_spend")
    assert await redeem(api, shop, v["code"], 9999, key="small") == below

    await set_merchant_status(api, shop, "suspended")
    inactive = await redeem(api, shop, v["code"], key="while-suspended")
    assert_error(*inactive, 409, "merchant_inactive")
    await set_merchant_status(api, shop, "active")
    assert await redeem(api, shop, v["code"], key="while-suspended") == inactive
    assert (await in_wallet(api, v["code"]))["status"] == "active"

    done = await redeemed(api, shop, v["code"], key="first")
    used = await redeem(api, shop, v["code"], key="second")
    assert_error(*used, 409, "already_redeemed")
    assert (await reverse(api, shop, done["id"]))[0] == 200
    assert await redeem(api, shop, v["code"], key="second") == used
    assert (await in_wallet(api, v["code"]))["status"] == "active"


@pytest.mark.parametrize("role", ["resident", "bureau", None])
async def test_redemption_endpoints_are_for_merchants(api: Api, role: str | None) -> None:
    v = await voucher(api)
    headers = {} if role is None else api.auth(role)
    expected = (401, "unauthorized") if role is None else (403, "forbidden")
    body = {"code": v["code"], "order_amount_fen": 12000, "order_ref": "POS-1"}
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", REDEMPTIONS, {"json": body, "headers": {**headers, "Idempotency-Key": "k1"}}),
        ("GET", f"{PREVIEW}/{v['code']}", {"headers": headers}),
        ("GET", REDEMPTIONS, {"headers": headers}),
    ]
    for method, path, kw in calls:
        assert_error(*await api.call(method, path, **kw), *expected)
    assert (await in_wallet(api, v["code"]))["status"] == "active"


# --- lookups --------------------------------------------------------------------------


async def test_lookup_by_idempotency_key_is_per_merchant(api: Api) -> None:
    shop, other = await cashier(api), await cashier(api)
    done = await redeemed(api, shop, (await voucher(api))["code"], key="K-1", order=15000)

    assert await listing(api, shop, "?idempotency_key=K-1") == {
        "items": [done],
        "totals": {"count": 1, "order_amount_fen": 15000, "discount_fen": 2000},
    }
    assert await listing(api, shop, "?idempotency_key=K-2") == EMPTY
    assert await listing(api, other, "?idempotency_key=K-1") == EMPTY

    # Keys are per merchant: the other merchant's K-1 is a new checkout, not a replay.
    theirs = await redeemed(api, other, (await voucher(api))["code"], key="K-1")
    assert theirs["id"] != done["id"]
    assert (await listing(api, other, "?idempotency_key=K-1"))["items"] == [theirs]
    assert (await listing(api, shop, "?idempotency_key=K-1"))["items"] == [done]


async def test_get_one_redemption_is_owners_only(api: Api) -> None:
    shop, other = await cashier(api), await cashier(api)
    done = await redeemed(api, shop, (await voucher(api))["code"])
    path = f"{REDEMPTIONS}/{done['id']}"

    assert await api.call("GET", path, headers=shop.headers) == (200, done)
    assert_error(*await api.call("GET", path, headers=other.headers), 404, "not_found")
    assert_error(
        *await api.call("GET", f"{REDEMPTIONS}/999999", headers=shop.headers), 404, "not_found"
    )


async def test_list_of_a_day_with_totals_over_completed_only(api: Api) -> None:
    shop, other = await cashier(api), await cashier(api)
    kept = await redeemed(api, shop, (await voucher(api))["code"], order=12000)
    undone = await redeemed(api, shop, (await voucher(api))["code"], order=30000)
    await redeemed(api, other, (await voucher(api))["code"])
    status, reversed_ = await reverse(api, shop, undone["id"])
    assert status == 200

    day = await listing(api, shop, "?date=2020-05-06")
    assert sorted(i["id"] for i in day["items"]) == sorted([kept["id"], undone["id"]])
    assert reversed_ in day["items"] and kept in day["items"]
    assert day["totals"] == {"count": 1, "order_amount_fen": 12000, "discount_fen": 2000}
    assert await listing(api, shop, "") == day  # today by default
    assert await listing(api, shop, "?date=2020-05-05") == EMPTY

    for query in ("?date=2020-13-01", "?date=today", "?colour=red"):
        status, body = await api.call("GET", REDEMPTIONS + query, headers=shop.headers)
        assert_error(status, body, 400, "invalid_request")


# --- reversal -------------------------------------------------------------------------


async def test_reversal_restores_the_voucher_which_can_be_redeemed_again(api: Api) -> None:
    v = await voucher(api)
    shop = await cashier(api)
    done = await redeemed(api, shop, v["code"])
    api.clock.advance(hours=1)

    status, body = await reverse(api, shop, done["id"], reason="收银员操作失误")
    assert status == 200
    assert body == {
        **done,
        "status": "reversed",
        "reversed_at": "2020-05-06T11:00:00+08:00",
        "reversal_reason": "收银员操作失误",
    }
    assert await in_wallet(api, v["code"]) == v  # active, redeemed_at null, same expires_at

    assert_error(*await reverse(api, shop, done["id"]), 409, "not_redeemed")
    again = await redeemed(api, shop, v["code"])
    assert again["id"] != done["id"]
    assert (await in_wallet(api, v["code"]))["status"] == "redeemed"
    assert_error(*await reverse(api, shop, done["id"]), 409, "not_redeemed")


async def test_reversal_errors(api: Api) -> None:
    shop, other = await cashier(api), await cashier(api)
    done = await redeemed(api, shop, (await voucher(api))["code"])

    # Another merchant's redemption is not found (API.md: never 403, which confirms it).
    assert_error(*await reverse(api, other, done["id"]), 404, "not_found")
    assert_error(*await reverse(api, shop, 999999), 404, "not_found")
    assert_error(*await reverse(api, shop, "abc"), 404, "not_found")
    for body in ({"note": "x"}, {"reason": ""}, {"reason": "   "}):
        status, error = await reverse(api, shop, done["id"], **body)
        assert_error(status, error, 400, "invalid_request")
    _, still = await api.call("GET", f"{REDEMPTIONS}/{done['id']}", headers=shop.headers)
    assert still == done


async def test_reversal_only_on_the_business_day(api: Api) -> None:
    shop = await cashier(api)
    late = await redeemed(api, shop, (await voucher(api))["code"])
    next_day = await redeemed(api, shop, (await voucher(api))["code"])

    api.clock.advance(hours=13, minutes=59, seconds=59)  # 23:59:59 in Jinan
    assert (await reverse(api, shop, late["id"]))[0] == 200

    api.clock.advance(seconds=1)  # 00:00:00 the next day
    assert_error(*await reverse(api, shop, next_day["id"]), 409, "reversal_window_passed")
    _, still = await api.call("GET", f"{REDEMPTIONS}/{next_day['id']}", headers=shop.headers)
    assert still["status"] == "completed"


async def test_reversal_after_the_voucher_expired_leaves_it_expired(api: Api) -> None:
    v = await voucher(api, valid_until=(api.clock.now() + timedelta(hours=2)).isoformat())
    assert v["expires_at"] == "2020-05-06T12:00:00+08:00"
    shop = await cashier(api)
    done = await redeemed(api, shop, v["code"])

    api.clock.advance(hours=3)  # 13:00, the same business day
    assert (await reverse(api, shop, done["id"]))[0] == 200
    after = await in_wallet(api, v["code"])
    assert (after["status"], after["expires_at"], after["redeemed_at"]) == (
        "expired",
        v["expires_at"],
        None,
    )
    assert_error(*await redeem(api, shop, v["code"]), 409, "expired")


async def test_a_replay_is_byte_for_byte_the_original_answer(api: Api) -> None:
    v = await voucher(api)
    shop = await cashier(api)
    raw = []
    for _ in range(2):
        resp = await api.client.post(
            "/api/v1/merchant/redemptions",
            json={"code": v["code"], "order_amount_fen": 12000, "order_ref": "pos-1"},
            headers={**shop.headers, "Idempotency-Key": "bytes-1"},
        )
        raw.append((resp.status, await resp.read()))
    assert raw[0][0] == 201 and raw[0] == raw[1]


async def test_the_answer_of_a_redemption_is_the_stored_redemption(api: Api) -> None:
    """The 201 body is built before the write (so it is stored in the same statement); it must
    be exactly what reading the redemption back gives."""
    v = await voucher(api)
    shop = await cashier(api)
    created = await redeemed(api, shop, v["code"], key="same-as-stored")
    _, stored = await api.call(
        "GET", f"{REDEMPTIONS}/{created['id']}", headers=shop.headers, expect=200
    )
    assert created == stored


async def test_one_flush_settles_mixed_checkouts_each_as_if_alone(api: Api) -> None:
    """The combiner's unit: one transaction, each checkout its own answer, in order."""
    from service import keys as app_keys
    from service.domain.redemptions import Checkout, redeem_many
    from service.views.redemptions import redemption_text

    v1, v2, v3 = await voucher(api, "a"), await voucher(api, "b"), await voucher(api, "c")
    shop = await cashier(api)
    first = await redeemed(api, shop, v2["code"], key="earlier")
    db = api.client.app[app_keys.DB]
    outcomes = await redeem_many(
        db,
        [
            Checkout(shop.id, "k1", v1["code"], 12000, "a"),  # redeems v1
            Checkout(shop.id, "k2", v1["code"], 12000, "b"),  # v1 again in the same flush
            Checkout(shop.id, "k3", v3["code"], 9000, "c"),  # below the threshold
            Checkout(shop.id, "earlier", v2["code"], 12000, "POS-0001"),  # a retry: replayed
            Checkout(shop.id, "k5", v2["code"], 12000, "d"),  # already redeemed
        ],
        now=api.clock.now(),
        tz=api.settings.tz,
        render=lambda redemption: redemption_text(redemption, api.settings.tz),
    )
    statuses = [o[0] if isinstance(o, tuple) else o.code for o in outcomes]
    assert statuses == [201, 409, 409, 201, 409]

    assert json.loads(outcomes[1][1])["error"]["code"] == "already_redeemed"  # type: ignore[index]
    assert json.loads(outcomes[2][1])["error"]["code"] == "below_min_spend"  # type: ignore[index]
    assert json.loads(outcomes[3][1]) == first  # type: ignore[index]
    assert json.loads(outcomes[4][1])["error"]["code"] == "already_redeemed"  # type: ignore[index]
    # Each refusal is stored with its key and replays as it was.
    again = await redeem_many(
        db,
        [Checkout(shop.id, "k2", v1["code"], 12000, "b")],
        now=api.clock.now(),
        tz=api.settings.tz,
        render=lambda redemption: redemption_text(redemption, api.settings.tz),
    )
    assert again == [outcomes[1]]


async def test_replayed_checkouts_in_one_flush_each_happen_at_their_own_moment(api: Api) -> None:
    """The demo replays a day's checkouts in shared transactions: each is stored at its own
    moment and business day, its voucher's expiry is judged then, and a daily cap counts each
    day apart."""
    from datetime import datetime, timedelta

    from service import keys as app_keys
    from service.domain.redemptions import Checkout, redeem_many
    from service.views.redemptions import redemption_text

    shop = await api.merchant(category="shopping", daily_subsidy_cap_fen=2_000)
    v1, v2, v3, v4 = [await voucher(api, sub) for sub in ("a", "b", "c", "d")]
    today = api.clock.now() + timedelta(hours=1)
    tomorrow = today + timedelta(days=1)
    too_late = datetime.fromisoformat(v4["expires_at"]) + timedelta(seconds=1)
    db = api.client.app[app_keys.DB]
    outcomes = await redeem_many(
        db,
        [
            Checkout(shop.id, "k1", v1["code"], 12000, "a", today),  # the day's 20 yuan
            Checkout(shop.id, "k2", v2["code"], 12000, "b", today),  # over the day's cap
            Checkout(shop.id, "k3", v3["code"], 12000, "c", tomorrow),  # a new day, a new cap
            Checkout(shop.id, "k4", v4["code"], 12000, "d", too_late),  # expired by then
        ],
        now=api.clock.now(),
        tz=api.settings.tz,
        render=lambda redemption: redemption_text(redemption, api.settings.tz),
    )
    answers = [(o[0], json.loads(o[1])) for o in outcomes if isinstance(o, tuple)]
    assert [status for status, _ in answers] == [201, 409, 201, 409]
    assert answers[1][1]["error"]["code"] == "merchant_cap_reached"
    assert answers[3][1]["error"]["code"] == "expired"
    for (_, body), at in ((answers[0], today), (answers[2], tomorrow)):
        assert datetime.fromisoformat(body["redeemed_at"]) == at
        stored = await db.pool.fetchrow(
            "SELECT redeemed_at, business_date FROM redemptions WHERE id = $1", body["id"]
        )
        assert stored["redeemed_at"] == at
        assert stored["business_date"] == at.astimezone(api.settings.tz).date()
    assert (
        datetime.fromisoformat((await in_wallet(api, v3["code"], "c"))["redeemed_at"]) == tomorrow
    )


async def test_a_token_for_a_merchant_that_does_not_exist_is_forbidden(api: Api) -> None:
    v = await voucher(api)
    ghost = api.auth("merchant", "merchant:999999", 999999)
    for code in (v["code"], new_code()):  # a real voucher, and an unknown one
        status, body = await api.call(
            "POST",
            REDEMPTIONS,
            headers={**ghost, "Idempotency-Key": f"ghost-{code}"},
            json={"code": code, "order_amount_fen": 12000, "order_ref": "x"},
        )
        assert_error(status, body, 403, "forbidden")
    status, body = await api.call("GET", f"{PREVIEW}/{v['code']}", headers=ghost)
    assert_error(status, body, 403, "forbidden")
