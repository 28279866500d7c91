"""Input that used to crash a handler (the hardening review, issue 11), and the outside
tester's input findings: nesting, control characters, lone surrogates, NUL in queries, dates
and ids out of range, keys given twice, invisible format characters; each a documented
400 (or 401), never a 500."""

from __future__ import annotations

import json
from typing import Any

import pytest

from service import keys
from service.domain.codes import qr_string
from tests.conftest import Api, assert_error
from tests.support.checkout import (
    cashier,
    checkout_body,
    claimed_codes,
    post_redemption,
    redeemed_checkout,
)
from tests.support.tokens import signed

REDEMPTIONS = "/api/v1/merchant/redemptions"
NUL, SURROGATE = "\x00", "\ud800"


@pytest.mark.parametrize("depth", [33, 1100, 100_000])
async def test_deeply_nested_json_is_a_400_before_any_token(api: Api, depth: int) -> None:
    body = "[" * depth + "]" * depth
    for path in ("/api/v1/auth/otp", "/api/v1/auth/bureau", "/api/v1/admin/batches"):
        status, answer = await api.call(
            "POST", path, data=body, headers={"Content-Type": "application/json"}
        )
        if path == "/api/v1/admin/batches":  # the token is checked before the body is read
            assert_error(status, answer, 401, "unauthorized")
        else:
            assert_error(status, answer, 400, "invalid_request")


async def test_moderately_nested_json_is_still_read(api: Api) -> None:
    status, answer = await api.call("POST", "/api/v1/auth/otp", json={"phone": [[[[1]]]]})
    assert_error(status, answer, 400, "invalid_request")
    assert "phone" in answer["error"]["details"]


BAD_TEXT = [NUL, SURROGATE, "\x1b[31m", "\x7f", "\u0085"]


@pytest.mark.parametrize("bad", BAD_TEXT, ids=["nul", "surrogate", "escape", "del", "c1"])
async def test_control_characters_and_lone_surrogates_are_400_everywhere(
    api: Api, bad: str
) -> None:
    from tests.support.factories import batch_body, merchant_body

    shop, code, redemption = await redeemed_checkout(api)
    attempts = [
        ("POST", "/api/v1/auth/bureau", {"username": f"ops{bad}", "password": "x" * 12}, {}),
        ("POST", "/api/v1/auth/bureau", {"username": "ops", "password": f"pass{bad}word"}, {}),
        ("POST", "/api/v1/auth/merchant", {"merchant_id": shop["id"], "api_key": f"mk_{bad}"}, {}),
        ("POST", "/api/v1/admin/batches", batch_body(api.clock, title=f"券{bad}"), api.bureau),
        ("POST", "/api/v1/admin/merchants", merchant_body(name=f"店{bad}"), api.bureau),
        ("PATCH", f"/api/v1/admin/merchants/{shop['id']}", {"address": f"路{bad}"}, api.bureau),
        (
            "POST",
            f"{REDEMPTIONS}/{redemption['id']}/reversal",
            {"reason": f"退{bad}货"},
            shop["headers"],
        ),
        (
            "POST",
            REDEMPTIONS,
            checkout_body(code, ref=f"P{bad}"),
            {**shop["headers"], "Idempotency-Key": "k2"},
        ),
    ]
    for method, path, body, headers in attempts:
        raw = json.dumps(body).encode()  # ensure_ascii: the surrogate travels as \ud800
        status, answer = await api.call(
            method, path, data=raw, headers={**headers, "Content-Type": "application/json"}
        )
        assert_error(status, answer, 400, "invalid_request")
    # An unknown field whose name is hostile is refused with a name that can be shown.
    raw = json.dumps({"phone": "13900001111", f"x{bad}": 1}).encode()
    status, answer = await api.call(
        "POST", "/api/v1/auth/otp", data=raw, headers={"Content-Type": "application/json"}
    )
    assert_error(status, answer, 400, "invalid_request")


async def test_free_text_keeps_tab_and_newline_other_text_does_not(api: Api) -> None:
    shop, _, redemption = await redeemed_checkout(api)
    _, reversed_ = await api.call(
        "POST",
        f"{REDEMPTIONS}/{redemption['id']}/reversal",
        json={"reason": "顾客退货\n\t尺码不合"},
        headers=shop["headers"],
        expect=200,
    )
    assert reversed_["reversal_reason"] == "顾客退货\n\t尺码不合"
    from tests.support.factories import batch_body

    status, body = await api.call(
        "POST",
        "/api/v1/admin/batches",
        json=batch_body(api.clock, title="券\n满100减20"),
        headers=api.bureau,
    )
    assert_error(status, body, 400, "invalid_request")
    assert "title" in body["error"]["details"]


async def test_nul_in_query_strings_is_a_400(api: Api) -> None:
    shop = await cashier(api)
    status, body = await api.call(
        "GET", REDEMPTIONS, params={"idempotency_key": f"k{NUL}"}, headers=shop["headers"]
    )
    assert_error(status, body, 400, "invalid_request")
    status, body = await api.call("GET", "/api/v1/batches", params={"category": f"dining{NUL}"})
    assert_error(status, body, 400, "invalid_request")


@pytest.mark.parametrize("signature", ["é" * 16, "签名签名", "\ud800abc", "AAAA\x00"])
async def test_a_qr_with_a_non_ascii_signature_is_not_found(api: Api, signature: str) -> None:
    shop = await cashier(api)
    (code,) = await claimed_codes(api, 1)
    qr = f"HYV1.{code}.{signature}"
    status, body = await api.call("GET", f"/api/v1/merchant/vouchers/{qr}", headers=shop["headers"])
    assert status in (400, 404), body
    body_text = json.dumps({"code": qr, "order_amount_fen": 12000, "order_ref": "P"})
    status, body = await post_redemption(api, shop, body_text)
    assert status in (400, 404), body
    # The genuine QR still works.
    real = qr_string(api.client.app[keys.SERVER_KEYS]["qr_signing"], code)
    await api.call("GET", f"/api/v1/merchant/vouchers/{real}", headers=shop["headers"], expect=200)


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31", "1999-12-31", "2100-01-01"])
async def test_dates_outside_2000_to_2099_are_400(api: Api, day: str) -> None:
    shop = await cashier(api)
    for path, headers in (
        (f"/api/v1/stats/daily?to={day}", api.bureau),
        (f"/api/v1/stats/daily?from={day}&to=2020-05-01", api.bureau),
        (f"/api/v1/stats/merchants?date={day}", api.bureau),
        (f"/api/v1/admin/settlements?date={day}", api.bureau),
        (f"/api/v1/merchant/settlements?to={day}", shop["headers"]),
        (f"/api/v1/merchant/settlements?from={day}&to=2020-05-01", shop["headers"]),
        (f"{REDEMPTIONS}?date={day}", shop["headers"]),
    ):
        status, body = await api.call("GET", path, headers=headers)
        assert_error(status, body, 400, "invalid_request")
    status, body = await api.call(
        "POST", "/api/v1/admin/jobs/daily_rollup/runs", json={"date": day}, headers=api.bureau
    )
    assert_error(status, body, 400, "invalid_request")
    status, body = await api.put_csv(
        "/api/v1/admin/baselines", f"date,category,sales_fen\n{day},dining,100\n"
    )
    assert_error(status, body, 400, "invalid_request")
    assert "2" in body["error"]["details"]["lines"]


@pytest.mark.parametrize(
    "when", ["0001-01-01T00:00:00+08:00", "9999-12-31T23:59:59-08:00", "2100-01-01T00:00:00Z"]
)
async def test_batch_times_outside_2000_to_2099_are_400(api: Api, when: str) -> None:
    from tests.support.factories import batch_body

    for field in ("claim_starts_at", "claim_ends_at", "valid_until"):
        status, body = await api.call(
            "POST",
            "/api/v1/admin/batches",
            json=batch_body(api.clock, **{field: when}),
            headers=api.bureau,
        )
        assert_error(status, body, 400, "invalid_request")
    batch = await api.create_batch()
    status, body = await api.call(
        "PATCH",
        f"/api/v1/admin/batches/{batch['id']}",
        json={"claim_ends_at": when},
        headers=api.bureau,
    )
    assert_error(status, body, 400, "invalid_request")


@pytest.mark.parametrize("mid", [2**63, 2**64, -1, 0, 10**30, 1.5, "12", True])
async def test_out_of_range_mid_is_401(api: Api, mid: Any) -> None:
    status, body = await api.call("GET", REDEMPTIONS, headers=signed(mid=mid))
    assert_error(status, body, 401, "unauthorized")


async def test_a_key_given_twice_is_refused_whatever_the_endpoint(api: Api) -> None:
    """json.loads keeps the last of a duplicated key: `confirm` … `dismiss` once dismissed a
    flag. Now the body is refused, and nothing happens."""
    body = (
        '{"name": "济南甲商户", "category": "shopping", "category": "dining",'
        ' "credit_code": "91370104MA3C1TQ22X", "district": "槐荫区", "address": "经十路",'
        ' "contact_phone": "13812345678"}'
    )
    headers = {**api.bureau, "Content-Type": "application/json"}
    status, error = await api.call(
        "POST", "/api/v1/admin/merchants", data=body.encode(), headers=headers
    )
    assert_error(status, error, 400, "invalid_request")
    assert "category" in error["error"]["details"]["_body"][0]
    _, listed = await api.call("GET", "/api/v1/admin/merchants", headers=api.bureau, expect=200)
    assert listed == []
    nested = '{"decision": "confirm", "note": "x", "x": {"a": 1, "a": 2}}'
    status, error = await api.call(
        "POST", "/api/v1/admin/risk/flags/1/review", data=nested.encode(), headers=headers
    )
    assert_error(status, error, 400, "invalid_request")


@pytest.mark.parametrize("hidden", ["\u202e", "\u202a", "\u2066", "\u2069", "\u200b", "\u200f"])
async def test_invisible_format_characters_are_refused_in_text(api: Api, hidden: str) -> None:
    from tests.support.factories import merchant_body

    status, error = await api.call(
        "POST",
        "/api/v1/admin/merchants",
        json=merchant_body(name=f"济南{hidden}商户"),
        headers=api.bureau,
    )
    assert_error(status, error, 400, "invalid_request")
    assert "name" in error["error"]["details"], error
    status, error = await api.call(  # free text (a note) too
        "POST",
        "/api/v1/admin/risk/flags/1/review",
        json={"decision": "confirm", "note": f"核实{hidden}"},
        headers=api.bureau,
    )
    assert_error(status, error, 400, "invalid_request")
    assert "note" in error["error"]["details"], error
