"""Several vouchers in one checkout (API.md, "Where to spend, joining, several vouchers at once"):
the resident's checkout QR, the cashier's preview of it, a checkout by `qr` or by typed `codes`
redeemed all or none with one Idempotency-Key, its answer, its ledger transfers, and reversing
one item reversing the checkout. Races are in tests/domain/test_checkout_races.py."""

from __future__ import annotations

import json
from typing import Any

import pytest

from service import keys
from service.domain.codes import checkout_qr_string, new_code
from service.domain.redemptions import split_order
from service.vocabulary import MAX_CHECKOUT_VOUCHERS
from tests.conftest import REDEMPTIONS, Api, assert_error, assert_invalid
from tests.support.checkouts import (
    PREVIEW,
    by_codes,
    by_qr,
    checkout_qr,
    post_checkout,
    qr_of,
    statuses,
    transfers_of,
    wallet,
)
from tests.support.money import verified

NOW = "2020-05-06T10:00:00+08:00"  # the test clock, as the API writes it
IN_TEN_MINUTES = "2020-05-06T10:10:00+08:00"


def dashed(code: str) -> str:
    return f"{code[:4]}-{code[4:9]}-{code[9:]}".lower()


# --- the resident's checkout QR -----------------------------------------------------------


async def test_a_resident_puts_vouchers_of_one_category_into_one_signed_qr(api: Api) -> None:
    codes = await wallet(api, "alice", 3)
    status, body = await checkout_qr(api, "alice", codes)
    assert status == 200, body
    svg = body.pop("svg")
    qr = body.pop("qr")
    assert body == {
        "codes": codes,
        "category": "shopping",
        "count": 3,
        "discount_fen": 6000,
        "min_spend_fen": 30000,
        "expires_at": IN_TEN_MINUTES,
        "valid_for_s": 600,
    }
    assert svg.startswith("<svg") and "</svg>" in svg
    # Upper-case letters, digits, dots and dashes only: drawn in QR's dense alphanumeric mode.
    assert qr.startswith("HYC1.") and all(c.isupper() or c.isdigit() or c in ".-" for c in qr)
    assert all(code in qr for code in codes)
    # Typed as a person might (lower case, dashes): the same vouchers.
    status, again = await checkout_qr(api, "alice", [dashed(c) for c in codes])
    assert (status, again["codes"]) == (200, codes)


async def test_a_checkout_qr_takes_only_the_callers_own_active_vouchers_of_one_category(
    api: Api,
) -> None:
    mine = await wallet(api, "alice", 2)
    theirs = await wallet(api, "bob", 1)
    dining = await wallet(
        api, "alice", 1, category="dining", face_value_fen=1000, min_spend_fen=5000
    )
    status, body = await checkout_qr(api, "alice", [*mine, *theirs])
    assert_error(status, body, 404, "not_found")
    assert body["error"]["details"] == {"code": theirs[0]}
    assert_invalid(*await checkout_qr(api, "alice", [*mine, *dining]), "codes")
    assert_invalid(*await checkout_qr(api, "alice", [mine[0], mine[0]]), "codes")
    assert_invalid(*await checkout_qr(api, "alice", [mine[0], dashed(mine[0])]), "codes")
    assert_invalid(*await checkout_qr(api, "alice", ["A"] * (MAX_CHECKOUT_VOUCHERS + 1)), "codes")
    for query in ("", ",", f"{mine[0]},,{mine[1]}"):
        status, body = await api.call(
            "GET",
            "/api/v1/me/checkout-qr",
            params={"codes": query},
            headers=api.auth("resident", "alice"),
        )
        assert_invalid(status, body, "codes", query)
    assert_error(*await checkout_qr(api, "alice", ["NOT-A-CODE"]), 404, "not_found")
    # A voucher already used cannot go into a QR code.
    shop = await api.merchant()
    await api.redeem(shop, mine[1], 12000)
    status, body = await checkout_qr(api, "alice", mine)
    assert_error(status, body, 409, "already_redeemed")
    assert body["error"]["details"] == {"code": mine[1]}
    # Residents only.
    for headers in (shop.headers, api.bureau):
        status, body = await api.call(
            "GET", "/api/v1/me/checkout-qr", params={"codes": mine[0]}, headers=headers
        )
        assert_error(status, body, 403, "forbidden")


# --- the cashier's preview ------------------------------------------------------------------


async def test_the_cashier_previews_a_scanned_checkout_qr_or_typed_codes(api: Api) -> None:
    codes = await wallet(api, "alice", 2)
    shop, diner = await api.merchant(), await api.merchant(category="dining")
    qr = await qr_of(api, "alice", codes)
    for params in ({"qr": qr}, {"codes": ",".join(dashed(c) for c in codes)}):
        _, body = await api.call("GET", PREVIEW, params=params, headers=shop.headers, expect=200)
        assert body["count"] == 2 and body["redeemable"] is True, body
        assert (body["discount_fen"], body["min_spend_fen"]) == (4000, 20000)
        assert [i["code"] for i in body["items"]] == codes
        assert all(i["redeemable"] for i in body["items"])
        assert body["qr_expires_at"] == (IN_TEN_MINUTES if "qr" in params else None)
    _, body = await api.call("GET", PREVIEW, params={"qr": qr}, headers=diner.headers, expect=200)
    assert (body["redeemable"], body["reason"], body["reason_code"]) == (
        False,
        "merchant_not_eligible",
        codes[0],
    )
    forged = qr[:-1] + ("A" if qr[-1] != "A" else "B")
    assert_error(
        *await api.call("GET", PREVIEW, params={"qr": forged}, headers=shop.headers),
        404,
        "not_found",
    )
    api.clock.advance(minutes=10, seconds=1)
    assert_error(
        *await api.call("GET", PREVIEW, params={"qr": qr}, headers=shop.headers), 409, "expired"
    )
    assert_invalid(*await api.call("GET", PREVIEW, headers=shop.headers), "qr")
    assert_invalid(
        *await api.call("GET", PREVIEW, params={"qr": qr, "codes": codes[0]}, headers=shop.headers),
        "codes",
    )


# --- redeeming a checkout -------------------------------------------------------------------


async def test_a_checkout_by_qr_redeems_every_voucher_each_with_its_own_transfer(
    api: Api,
) -> None:
    codes = await wallet(api, "alice", 3)
    shop = await api.merchant()
    qr = await qr_of(api, "alice", codes)
    status, body = await post_checkout(
        api, shop.headers, by_qr(qr, 31_001, metadata="收银台 2\t小票号 0031"), key="cart-1"
    )
    assert status == 201, body
    items = body["items"]
    ids = [item["id"] for item in items]
    assert body == {
        "checkout_id": ids[0],
        "items": items,
        "discount_fen": 6000,
        "order_amount_fen": 31_001,
        "payable_fen": 25_001,
    }
    # The order split over the items by their thresholds: whole fen, summing to the order.
    assert [i["order_amount_fen"] for i in items] == [10_334, 10_334, 10_333]
    for item, code, share in zip(items, codes, [10_334, 10_334, 10_333], strict=True):
        assert item == {
            "id": item["id"],
            "code": code,
            "merchant_id": shop.id,
            "category": "shopping",
            "order_amount_fen": share,
            "discount_fen": 2000,
            "payable_fen": share - 2000,
            "order_ref": "POS-9",
            "status": "completed",
            "redeemed_at": NOW,
            "reversed_at": None,
            "reversal_reason": None,
            "checkout_id": ids[0],
            "cashier_id": None,
            "cashier_name": None,
            "metadata": "收银台 2\t小票号 0031",
        }
    assert await statuses(api, codes) == ["redeemed"] * 3
    assert await transfers_of(api, ids) == [("redemption", str(i), 2000) for i in ids]
    # Each item reads back as answered; the key finds them all.
    for item in items:
        _, stored = await api.call(
            "GET", f"{REDEMPTIONS}/{item['id']}", headers=shop.headers, expect=200
        )
        assert stored == item
    _, found = await api.call(
        "GET", REDEMPTIONS, params={"idempotency_key": "cart-1"}, headers=shop.headers, expect=200
    )
    assert found["items"] == items
    assert found["totals"] == {"count": 3, "order_amount_fen": 31_001, "discount_fen": 6000}
    await verified(api)


async def test_a_checkout_by_typed_codes_is_the_same(api: Api) -> None:
    codes = await wallet(api, "alice", 2)
    shop = await api.merchant()
    status, body = await post_checkout(
        api, shop.headers, by_codes([dashed(codes[0]), codes[1]], 20_000)
    )
    assert status == 201, body
    assert [i["code"] for i in body["items"]] == codes
    assert [i["payable_fen"] for i in body["items"]] == [8000, 8000]
    # One code alone as `codes` is a checkout of one voucher (answered as a checkout).
    (single,) = await wallet(api, "bob", 1)
    status, body = await post_checkout(api, shop.headers, by_codes([single], 10_000))
    assert status == 201 and body["checkout_id"] == body["items"][0]["id"], body


def test_the_split_follows_the_thresholds_and_sums_to_the_order() -> None:
    assert split_order(10_000, [10_000]) == [10_000]
    assert split_order(15_001, [5000, 10_000]) == [5000, 10_001]
    assert split_order(20_000, [10_000, 5000, 5000]) == [10_000, 5000, 5000]
    assert split_order(20_002, [5000, 5000, 5000, 5000]) == [5001, 5001, 5000, 5000]
    for order in range(30_000, 30_050):
        shares = split_order(order, [10_000, 5000, 15_000])
        assert sum(shares) == order
        assert all(s >= w for s, w in zip(shares, [10_000, 5000, 15_000], strict=True))


async def test_a_checkout_is_all_or_nothing_and_names_the_voucher_that_failed(api: Api) -> None:
    codes = await wallet(api, "alice", 3)
    shop = await api.merchant()
    await api.redeem(shop, codes[1], 12_000)  # one of them already used
    status, body = await post_checkout(api, shop.headers, by_codes(codes, 40_000))
    assert_error(status, body, 409, "already_redeemed")
    assert body["error"]["details"] == {"code": codes[1]}
    assert await statuses(api, codes) == ["active", "redeemed", "active"]

    # Below the sum of the thresholds (30,000 for three 满100): nothing redeemed.
    fresh = await wallet(api, "bob", 3)
    status, body = await post_checkout(api, shop.headers, by_codes(fresh, 29_999))
    assert_error(status, body, 409, "below_min_spend")
    assert body["error"]["details"] == {"min_spend_fen": 30_000, "order_amount_fen": 29_999}
    assert await statuses(api, fresh) == ["active"] * 3
    # Vouchers of two categories: the one this merchant may not redeem is named.
    dining = await wallet(api, "bob", 1, category="dining", face_value_fen=1000, min_spend_fen=5000)
    status, body = await post_checkout(api, shop.headers, by_codes([*fresh[:2], *dining], 50_000))
    assert_error(status, body, 409, "merchant_not_eligible")
    assert body["error"]["details"] == {"code": dining[0]}
    assert await statuses(api, [*fresh, *dining]) == ["active"] * 4
    # An unknown (well-formed) code is named too.
    ghost = new_code()
    status, body = await post_checkout(api, shop.headers, by_codes([fresh[0], ghost], 50_000))
    assert_error(status, body, 404, "not_found")
    assert body["error"]["details"] == {"code": ghost}
    assert await statuses(api, fresh) == ["active"] * 3
    moved = await api.client.app[keys.DB].pool.fetchval(
        "SELECT count(*) FROM transfers WHERE kind = 'redemption'"
    )
    assert moved == 1  # the single redemption only
    await verified(api)


async def test_a_checkout_over_the_merchants_daily_cap_is_refused_whole(api: Api) -> None:
    codes = await wallet(api, "alice", 3)
    shop = await api.merchant(daily_subsidy_cap_fen=5000)
    status, body = await post_checkout(api, shop.headers, by_codes(codes, 30_000))
    assert_error(status, body, 409, "merchant_cap_reached")
    assert body["error"]["details"]["discount_fen"] == 6000
    assert await statuses(api, codes) == ["active"] * 3
    status, body = await post_checkout(api, shop.headers, by_codes(codes[:2], 30_000))
    assert status == 201, body


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"codes": []}, "codes"),
        ({"codes": "ABC"}, "codes"),
        ({"codes": ["X"] * (MAX_CHECKOUT_VOUCHERS + 1)}, "codes"),
        ({"codes": [1, 2]}, "codes"),
        ({"code": "X"}, "code"),  # two ways at once
        ({"qr": "HYC1.1.X.Y"}, "codes"),
        ({"metadata": "x" * 1001}, "metadata"),
        ({"metadata": "收银台\x07"}, "metadata"),
        ({"metadata": "收银台\u202e2"}, "metadata"),
        ({"metadata": "收银台\u200b2"}, "metadata"),
        ({"metadata": 5}, "metadata"),
    ],
)
async def test_bad_checkout_bodies_are_400(api: Api, change: dict[str, Any], field: str) -> None:
    codes = await wallet(api, "alice", 2)
    shop = await api.merchant()
    body = {**by_codes(codes, 30_000), **change}
    assert_invalid(*await post_checkout(api, shop.headers, body), field, change)
    assert await statuses(api, codes) == ["active"] * 2
    # Neither code, codes nor qr.
    body = {"order_amount_fen": 30_000, "order_ref": "x"}
    assert_invalid(*await post_checkout(api, shop.headers, body), "code")


async def test_duplicates_forged_and_expired_checkout_qrs(api: Api) -> None:
    codes = await wallet(api, "alice", 2)
    shop = await api.merchant()
    for twice in ([codes[0], codes[0]], [codes[0], dashed(codes[0])]):
        assert_invalid(*await post_checkout(api, shop.headers, by_codes(twice, 30_000)), "codes")
    qr = await qr_of(api, "alice", codes)
    forged = qr[:-1] + ("A" if qr[-1] != "A" else "B")
    assert_error(*await post_checkout(api, shop.headers, by_qr(forged, 30_000)), 404, "not_found")
    # Another list under the same signature, or a made-up expiry: forged too.
    _, expiry, joined, signature = qr.split(".")
    swapped = f"HYC1.{expiry}.{codes[1]}-{codes[0]}.{signature}"
    later = f"HYC1.{int(expiry) + 3600}.{joined}.{signature}"
    for made_up in (swapped, later):
        assert_error(
            *await post_checkout(api, shop.headers, by_qr(made_up, 30_000)), 404, "not_found"
        )
    # A checkout QR typed into `code`: told where it goes.
    status, body = await post_checkout(
        api, shop.headers, {"code": qr, "order_amount_fen": 30_000, "order_ref": "x"}
    )
    assert_invalid(status, body, "code")
    # Ten minutes on: expired (409), and nothing redeemed.
    api.clock.advance(minutes=10, seconds=1)
    status, body = await post_checkout(api, shop.headers, by_qr(qr, 30_000))
    assert_error(status, body, 409, "expired")
    assert body["error"]["details"] == {"qr_expires_at": IN_TEN_MINUTES}
    assert await statuses(api, codes) == ["active"] * 2
    # A QR we signed listing a voucher twice is refused before any lookup.
    key = api.client.app[keys.SERVER_KEYS]["qr_signing"]
    doubled = checkout_qr_string(key, [codes[0], codes[0]], expires_at=int(expiry) + 3600)
    assert_invalid(*await post_checkout(api, shop.headers, by_qr(doubled, 30_000)), "qr")


async def test_the_key_covers_the_whole_checkout(api: Api) -> None:
    codes = await wallet(api, "alice", 2)
    shop = await api.merchant()
    qr = await qr_of(api, "alice", codes)
    raw = []
    for _ in range(2):
        resp = await api.client.post(
            REDEMPTIONS,
            json=by_qr(qr, 25_000, metadata="收银台 1"),
            headers={**shop.headers, "Idempotency-Key": "cart-7"},
        )
        raw.append((resp.status, await resp.read()))
    assert raw[0][0] == 201 and raw[0] == raw[1]
    # The same vouchers typed in: the same request (as a scanned and a typed single code are).
    status, body = await post_checkout(
        api, shop.headers, by_codes(codes, 25_000, metadata="收银台 1"), key="cart-7"
    )
    assert (status, json.dumps(body, ensure_ascii=False, separators=(",", ":"))) == (
        201,
        raw[0][1].decode(),
    )
    # Another body under the key: refused, whatever differs (the note too).
    for other in (
        by_qr(qr, 25_001, metadata="收银台 1"),
        by_qr(qr, 25_000, metadata="收银台 2"),
        by_qr(qr, 25_000),
        by_codes(codes[:1], 25_000, metadata="收银台 1"),
        by_codes(list(reversed(codes)), 25_000, metadata="收银台 1"),
        {
            "code": codes[0],
            "order_amount_fen": 25_000,
            "order_ref": "POS-9",
            "metadata": "收银台 1",
        },
    ):
        status, body = await post_checkout(api, shop.headers, other, key="cart-7")
        assert_error(status, body, 409, "idempotency_key_reused")
    # A retry after the QR expired still replays the checkout it made.
    api.clock.advance(minutes=30)
    status, body = await post_checkout(
        api, shop.headers, by_qr(qr, 25_000, metadata="收银台 1"), key="cart-7"
    )
    assert status == 201 and body["checkout_id"] == json.loads(raw[0][1])["checkout_id"]
    assert len(await transfers_of(api, [i["id"] for i in body["items"]])) == 2


async def test_a_refused_checkout_replays_its_refusal(api: Api) -> None:
    codes = await wallet(api, "alice", 2)
    shop = await api.merchant()
    status, first = await post_checkout(api, shop.headers, by_codes(codes, 10_000), key="short")
    assert_error(status, first, 409, "below_min_spend")
    status, again = await post_checkout(api, shop.headers, by_codes(codes, 10_000), key="short")
    assert (status, again) == (409, first)


# --- reversing a checkout --------------------------------------------------------------------


async def test_reversing_one_item_reverses_the_whole_checkout(api: Api) -> None:
    codes = await wallet(api, "alice", 3)
    shop, other = await api.merchant(), await api.merchant()
    _, body = await post_checkout(api, shop.headers, by_codes(codes, 36_000))
    ids = [i["id"] for i in body["items"]]
    # Another merchant: not found, on any item.
    path = f"{REDEMPTIONS}/{ids[1]}/reversal"
    assert_error(
        *await api.call("POST", path, json={"reason": "退货"}, headers=other.headers),
        404,
        "not_found",
    )
    _, reversed_ = await api.call(
        "POST", path, json={"reason": "整单退货"}, headers=shop.headers, expect=200
    )
    assert (reversed_["id"], reversed_["status"], reversed_["checkout_id"]) == (
        ids[1],
        "reversed",
        ids[0],
    )
    assert await statuses(api, codes) == ["active"] * 3
    for rid in ids:
        _, row = await api.call("GET", f"{REDEMPTIONS}/{rid}", headers=shop.headers, expect=200)
        assert (row["status"], row["reversal_reason"]) == ("reversed", "整单退货")
    assert await transfers_of(api, ids) == [
        *[("redemption", str(i), 2000) for i in ids],
        *[("reversal", str(i), 2000) for i in ids],
    ]
    for rid in ids:  # any item again: already reversed
        status, body = await api.call(
            "POST", f"{REDEMPTIONS}/{rid}/reversal", json={"reason": "x"}, headers=shop.headers
        )
        assert_error(status, body, 409, "not_redeemed")
    # The vouchers are active again: a new checkout of them is fine.
    status, again = await post_checkout(api, shop.headers, by_codes(codes, 36_000))
    assert status == 201, again
    await verified(api)


async def test_a_checkout_is_reversible_only_on_its_business_day(api: Api) -> None:
    codes = await wallet(api, "alice", 2)
    shop = await api.merchant()
    _, body = await post_checkout(api, shop.headers, by_codes(codes, 20_000))
    api.clock.advance(hours=14)  # past midnight in Jinan
    status, refused = await api.call(
        "POST",
        f"{REDEMPTIONS}/{body['items'][1]['id']}/reversal",
        json={"reason": "x"},
        headers=shop.headers,
    )
    assert_error(status, refused, 409, "reversal_window_passed")
    assert await statuses(api, codes) == ["redeemed"] * 2


async def test_a_clawed_back_checkout_cannot_be_reversed(api: Api) -> None:
    """A confirmed burst flag on a merchant's day (18 vouchers alone and a checkout of two),
    released with its clawback: reversing an item of the checkout is already_clawed_back."""
    from tests.support.shops import CLEAR, FLAGS, scan, series

    shop = await api.merchant()
    batch = await api.create_batch(quantity=100)
    await series(api, shop, batch["id"], [CLEAR] * 18, every_minutes=0.3)
    codes = await wallet(api, "alice", 2)
    _, checkout = await post_checkout(api, shop.headers, by_codes(codes, 30_000))
    await scan(api, intraday=True)
    _, found = await api.call(
        "GET", FLAGS, params={"merchant_id": shop.id}, headers=api.bureau, expect=200
    )
    flag = found["items"][0]["id"]
    for step, body in (
        ("review", {"decision": "confirm", "note": "核实"}),
        ("release", {"clawback": True, "note": "追回"}),
    ):
        await api.call("POST", f"{FLAGS}/{flag}/{step}", json=body, headers=api.bureau, expect=200)
    ids = [i["id"] for i in checkout["items"]]
    status, body = await api.call(
        "POST", f"{REDEMPTIONS}/{ids[1]}/reversal", json={"reason": "x"}, headers=shop.headers
    )
    assert_error(status, body, 409, "already_clawed_back")
    assert await statuses(api, codes) == ["redeemed"] * 2
    assert [t[0] for t in await transfers_of(api, ids)] == ["redemption"] * 2 + ["clawback"] * 2
    await verified(api)


async def test_the_list_shows_checkouts_and_the_note_and_downloads_as_csv(api: Api) -> None:
    codes = await wallet(api, "alice", 2)
    shop = await api.merchant()
    (single,) = await wallet(api, "bob", 1)
    await post_checkout(api, shop.headers, by_codes(codes, 20_000, metadata="=HYPERLINK(1)"))
    await post_checkout(
        api, shop.headers, {"code": single, "order_amount_fen": 10_000, "order_ref": "P-2"}
    )
    _, listed = await api.call("GET", REDEMPTIONS, headers=shop.headers, expect=200)
    assert [(i["code"], i["metadata"]) for i in listed["items"]] == [
        (single, None),
        (codes[1], "=HYPERLINK(1)"),
        (codes[0], "=HYPERLINK(1)"),
    ]
    status, text = await api.call(
        "GET", REDEMPTIONS, params={"format": "csv"}, headers=shop.headers
    )
    assert status == 200
    lines = text.splitlines()
    assert lines[0].split(",")[-4:] == ["checkout_id", "cashier_id", "cashier_name", "metadata"]
    assert lines[2].endswith(",'=HYPERLINK(1)") and lines[3].endswith(",'=HYPERLINK(1)")
    assert len(lines) == 4


async def test_one_flush_settles_checkouts_of_one_and_several_vouchers_each_as_if_alone(
    api: Api,
) -> None:
    """The combiner's unit with several-voucher checkouts in it: a checkout sharing a voucher
    with an earlier one in the same flush is refused whole, its other voucher untouched."""
    from service.domain.redemptions import Checkout, redeem_many
    from service.views.redemptions import redemption_text

    a, b, c, d = [await wallet(api, sub, 1) for sub in "abcd"]
    shop = await api.merchant()
    checkouts = [
        Checkout(shop.id, "k1", "", 30_000, "1", several=(a[0], b[0])),
        Checkout(shop.id, "k2", b[0], 12_000, "2"),  # b again: redeemed just before
        Checkout(shop.id, "k3", "", 30_000, "3", several=(c[0], a[0])),  # a again
        Checkout(shop.id, "k4", "", 30_000, "4", several=(c[0], d[0])),
    ]
    outcomes = await redeem_many(
        api.client.app[keys.DB],
        checkouts,
        now=api.clock.now(),
        tz=api.settings.tz,
        render=lambda values: redemption_text(values, api.settings.tz),
    )
    answers = [(o[0], json.loads(o[1])) for o in outcomes if isinstance(o, tuple)]
    assert [s for s, _ in answers] == [201, 409, 409, 201]
    assert answers[1][1]["error"]["code"] == "already_redeemed"
    assert answers[2][1]["error"]["details"] == {"code": a[0]}
    assert [i["code"] for i in answers[3][1]["items"]] == [c[0], d[0]]
    assert await statuses(api, [a[0], b[0], c[0], d[0]]) == ["redeemed"] * 4
    await verified(api)


async def test_the_checkout_qr_is_documented_and_the_answer_is_either_shape(api: Api) -> None:
    _, spec = await api.call("GET", "/api/openapi.json", expect=200)
    post = spec["paths"]["/api/v1/merchant/redemptions"]["post"]
    answer = post["responses"]["201"]["content"]["application/json"]["schema"]
    assert answer == {
        "oneOf": [
            {"$ref": "#/components/schemas/Redemption"},
            {"$ref": "#/components/schemas/Checkout"},
        ]
    }
    assert "/api/v1/me/checkout-qr" in spec["paths"]
    assert "payable_fen" in spec["components"]["schemas"]["Checkout"]["properties"]
    assert "proportion" in spec["components"]["schemas"]["Checkout"]["description"]
