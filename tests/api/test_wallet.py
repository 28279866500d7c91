"""Claiming and the wallet (API.md: "Claiming and the wallet (resident)"), one request at a time,
plus unit tests of the voucher codes and the expiry boundary seen by resident and merchant."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest

from service.domain.codes import (
    ALPHABET,
    CODE_LENGTH,
    QR_PREFIX,
    code_from_input,
    new_code,
    normalize,
    qr_string,
)
from tests.conftest import Api, assert_error

BATCHES = "/api/v1/batches"
WALLET = "/api/v1/me/vouchers"
CODE = re.compile(f"^[{ALPHABET}]{{14}}$")
NOW = "2020-05-06T10:00:00+08:00"  # the test clock, as the API writes it


# --- helpers --------------------------------------------------------------------------


def resident(api: Api, sub: str = "alice") -> dict[str, str]:
    return api.auth("resident", sub)


async def claim(api: Api, batch_id: int | str, sub: str = "alice") -> tuple[int, Any]:
    return await api.call("POST", f"{BATCHES}/{batch_id}/claims", headers=resident(api, sub))


async def claimed(api: Api, batch_id: int, sub: str = "alice") -> dict[str, Any]:
    status, body = await claim(api, batch_id, sub)
    assert status == 201, body
    return body


async def wallet(api: Api, sub: str = "alice", query: str = "") -> list[dict[str, Any]]:
    _, body = await api.call("GET", WALLET + query, headers=resident(api, sub), expect=200)
    return body


async def one(api: Api, code: str, sub: str = "alice") -> tuple[int, Any]:
    return await api.call("GET", f"{WALLET}/{code}", headers=resident(api, sub))


async def patch_batch(api: Api, batch_id: int, **body: Any) -> None:
    await api.call(
        "PATCH", f"/api/v1/admin/batches/{batch_id}", json=body, headers=api.bureau, expect=200
    )


async def remaining(api: Api, batch_id: int) -> int:
    _, body = await api.call("GET", f"{BATCHES}/{batch_id}", expect=200)
    return body["remaining"]


async def merchant(api: Api, category: str = "shopping") -> dict[str, str]:
    """A new active merchant's token headers."""
    return (await api.merchant(category=category)).headers


def at(api: Api, **delta: float) -> str:
    return (api.clock.now() + timedelta(**delta)).isoformat()


def parsed(value: str) -> datetime:
    return datetime.fromisoformat(value)


# --- claiming -------------------------------------------------------------------------


async def test_claim_returns_the_whole_voucher(api: Api) -> None:
    batch = await api.create_batch(title="购物券 满100减20")
    before = await remaining(api, batch["id"])

    voucher = await claimed(api, batch["id"])

    assert CODE.match(voucher["code"]), voucher
    assert voucher == {
        "code": voucher["code"],
        "batch_id": batch["id"],
        "category": "shopping",
        "title": "购物券 满100减20",
        "face_value_fen": 2000,
        "min_spend_fen": 10000,
        "status": "active",
        "claimed_at": NOW,
        "expires_at": "2020-05-13T10:00:00+08:00",  # valid_days 7
        "redeemed_at": None,
        "qr": voucher["qr"],
    }
    assert parsed(voucher["claimed_at"]) == api.clock.now()
    assert parsed(voucher["expires_at"]) - parsed(voucher["claimed_at"]) == timedelta(days=7)
    assert voucher["qr"].startswith("HYV1.")
    assert voucher["code"] in voucher["qr"]
    assert await remaining(api, batch["id"]) == before - 1


async def test_expiry_is_capped_by_valid_until(api: Api) -> None:
    capped = await api.create_batch(valid_days=7, valid_until=at(api, days=2))
    uncapped = await api.create_batch(valid_days=7, valid_until=at(api, days=30))

    assert (await claimed(api, capped["id"]))["expires_at"] == "2020-05-08T10:00:00+08:00"
    assert (await claimed(api, uncapped["id"]))["expires_at"] == "2020-05-13T10:00:00+08:00"


async def test_claim_before_the_window_is_not_open(api: Api) -> None:
    batch = await api.create_batch(claim_starts_at=at(api, hours=1), claim_ends_at=at(api, hours=2))
    assert_error(*await claim(api, batch["id"]), 409, "not_open")

    api.clock.advance(hours=1)
    assert (await claim(api, batch["id"]))[0] == 201


async def test_claim_of_a_paused_batch_is_not_open(api: Api) -> None:
    batch = await api.create_batch()
    await patch_batch(api, batch["id"], paused=True)
    assert_error(*await claim(api, batch["id"]), 409, "not_open")

    await patch_batch(api, batch["id"], paused=False)
    assert (await claim(api, batch["id"]))[0] == 201


async def test_claim_after_the_window_is_closed(api: Api) -> None:
    batch = await api.create_batch()  # the window ends at clock + 10 h
    api.clock.advance(hours=10)
    assert_error(*await claim(api, batch["id"]), 409, "closed")


async def test_sold_out_then_growing_quantity_opens_claims_again_at_once(api: Api) -> None:
    batch = await api.create_batch(quantity=1)
    await claimed(api, batch["id"], "alice")
    assert_error(*await claim(api, batch["id"], "bob"), 409, "sold_out")
    assert await remaining(api, batch["id"]) == 0

    # Same process, well within the second the sold-out answer is remembered.
    await patch_batch(api, batch["id"], quantity=2)
    assert (await claim(api, batch["id"], "bob"))[0] == 201
    assert_error(*await claim(api, batch["id"], "carol"), 409, "sold_out")


async def test_claims_beyond_the_per_resident_limit(api: Api) -> None:
    batch = await api.create_batch(per_resident_limit=2)
    first = await claimed(api, batch["id"])
    second = await claimed(api, batch["id"])
    assert first["code"] != second["code"]

    status, body = await claim(api, batch["id"])
    assert_error(status, body, 409, "limit_reached")
    assert len(await wallet(api)) == 2
    assert (await claim(api, batch["id"], "bob"))[0] == 201  # the limit is per resident


@pytest.mark.parametrize("batch_id", ["999999", "abc"])
async def test_claim_of_an_unknown_batch_is_404(api: Api, batch_id: str) -> None:
    assert_error(*await claim(api, batch_id), 404, "not_found")


async def test_claim_needs_a_resident_token(api: Api) -> None:
    batch = await api.create_batch()
    path = f"{BATCHES}/{batch['id']}/claims"
    assert_error(*await api.call("POST", path), 401, "unauthorized")
    for headers in (api.auth("merchant", "m1", 1), api.bureau):
        assert_error(*await api.call("POST", path, headers=headers), 403, "forbidden")
    assert await remaining(api, batch["id"]) == 100


# --- codes ----------------------------------------------------------------------------

KEY = b"k" * 32


def sample_codes(n: int = 20) -> list[str]:
    return [new_code() for _ in range(n)]


def test_new_codes_are_well_formed_and_normal() -> None:
    for code in sample_codes(200):
        assert len(code) == CODE_LENGTH == 14
        assert CODE.match(code)
        assert normalize(code) == code


def test_normalize_accepts_lower_case_dashes_and_spaces() -> None:
    code = new_code()
    grouped = f"{code[:4]}-{code[4:8]} {code[8:12]} - {code[12:]}"
    for typed in (code.lower(), grouped, grouped.lower(), f"  {code}  "):
        assert normalize(typed) == code, typed


def test_normalize_refuses_every_single_substitution() -> None:
    for code in sample_codes():
        for i in range(CODE_LENGTH):
            for ch in ALPHABET:
                if ch != code[i]:
                    mistyped = code[:i] + ch + code[i + 1 :]
                    assert normalize(mistyped) is None, (code, mistyped)


def test_normalize_refuses_every_adjacent_transposition() -> None:
    for code in sample_codes(200):
        for i in range(CODE_LENGTH - 1):
            if code[i] != code[i + 1]:
                swapped = code[:i] + code[i + 1] + code[i] + code[i + 2 :]
                assert normalize(swapped) is None, (code, swapped)


def test_normalize_refuses_what_cannot_be_a_code() -> None:
    code = new_code()
    for typed in ("", code[:-1], code + "2", code[:-1] + "0", code[:-1] + "I", "O" * 14):
        assert normalize(typed) is None, typed


def test_code_from_input_takes_a_typed_code_or_a_genuine_qr() -> None:
    code = new_code()
    assert code_from_input(KEY, code.lower()) == code
    assert code_from_input(KEY, qr_string(KEY, code)) == code


def test_code_from_input_refuses_forged_qr_strings() -> None:
    code, other = new_code(), new_code()
    qr = qr_string(KEY, code)
    prefix, _, signature = qr.split(".")
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    forged = [
        f"{prefix}.{code}.{flipped}",  # signature modified
        f"{prefix}.{other}.{signature}",  # code replaced by another valid code
        qr_string(b"another key" * 3, code),  # signed with another key
        f"{prefix}.{code}",  # no signature
        f"{prefix}.{code.lower()}.{signature}",
        qr + ".extra",
    ]
    for value in forged:
        assert code_from_input(KEY, value) is None, value
    assert qr.startswith(QR_PREFIX + ".")


def test_two_thousand_new_codes_are_distinct() -> None:
    assert len(set(sample_codes(2000))) == 2000


# --- the wallet -----------------------------------------------------------------------


async def test_wallet_is_newest_first_and_only_the_callers(api: Api) -> None:
    codes = []
    for _ in range(3):
        batch = await api.create_batch()
        codes.append((await claimed(api, batch["id"]))["code"])
        api.clock.advance(minutes=5)

    mine = await wallet(api)
    assert [v["code"] for v in mine] == codes[::-1]
    assert all(v["status"] == "active" for v in mine)
    assert await wallet(api, "bob") == []


async def test_wallet_filters_by_status(api: Api) -> None:
    short = await api.create_batch(valid_until=at(api, hours=2))
    kept = await api.create_batch()
    spent = await api.create_batch()
    expired = (await claimed(api, short["id"]))["code"]
    active = (await claimed(api, kept["id"]))["code"]
    redeemed = (await claimed(api, spent["id"]))["code"]
    status, body = await api.call(
        "POST",
        "/api/v1/merchant/redemptions",
        json={"code": redeemed, "order_amount_fen": 10000, "order_ref": "POS-1"},
        headers={**await merchant(api), "Idempotency-Key": uuid.uuid4().hex},
    )
    assert status == 201, body
    api.clock.advance(hours=3)

    every = {v["code"]: v["status"] for v in await wallet(api)}
    assert every == {expired: "expired", active: "active", redeemed: "redeemed"}
    for status_name, code in (("active", active), ("redeemed", redeemed), ("expired", expired)):
        [only] = await wallet(api, query=f"?status={status_name}")
        assert only["code"] == code and only["status"] == status_name
    redeemed_voucher = (await wallet(api, query="?status=redeemed"))[0]
    assert redeemed_voucher["redeemed_at"] == NOW


@pytest.mark.parametrize("query", ["?status=used", "?status=", "?colour=red", "?limit=0"])
async def test_wallet_refuses_bad_queries(api: Api, query: str) -> None:
    status, body = await api.call("GET", WALLET + query, headers=resident(api))
    assert_error(status, body, 400, "invalid_request")


async def test_one_voucher_is_the_same_as_in_the_list_and_only_its_owners(api: Api) -> None:
    batch = await api.create_batch()
    voucher = await claimed(api, batch["id"])
    [listed] = await wallet(api)
    assert listed == voucher

    assert await one(api, voucher["code"]) == (200, voucher)
    assert await one(api, voucher["code"].lower()) == (200, voucher)
    assert_error(*await one(api, voucher["code"], "bob"), 404, "not_found")
    assert_error(*await one(api, new_code()), 404, "not_found")


async def test_qr_svg_for_the_owner_only(api: Api) -> None:
    batch = await api.create_batch()
    code = (await claimed(api, batch["id"]))["code"]
    path = f"{WALLET}/{code}/qr.svg"

    resp = await api.client.get(path, headers=resident(api))
    assert resp.status == 200
    assert resp.content_type == "image/svg+xml"
    assert (await resp.text()).lstrip().startswith("<svg")

    assert_error(*await api.call("GET", path, headers=resident(api, "bob")), 404, "not_found")


# --- expiry at the boundary second ----------------------------------------------------


async def test_expiry_at_the_boundary_second_before_any_job(api: Api) -> None:
    batch = await api.create_batch(valid_days=1)
    voucher = await claimed(api, batch["id"])
    code = voucher["code"]
    assert voucher["expires_at"] == "2020-05-07T10:00:00+08:00"
    cashier = await merchant(api)

    async def preview() -> dict[str, Any]:
        _, body = await api.call(
            "GET", f"/api/v1/merchant/vouchers/{code}", headers=cashier, expect=200
        )
        return body

    api.clock.advance(days=1, seconds=-1)
    assert (await one(api, code))[1]["status"] == "active"
    seen = await preview()
    assert seen["redeemable"] is True and seen["status"] == "active"

    api.clock.advance(seconds=1)
    assert (await one(api, code))[1]["status"] == "expired"
    assert [v["code"] for v in await wallet(api, query="?status=expired")] == [code]
    seen = await preview()
    assert seen["redeemable"] is False
    assert seen["reason"] == "expired"
    assert seen["status"] == "expired"
    status, body = await api.call(
        "POST",
        "/api/v1/merchant/redemptions",
        json={"code": code, "order_amount_fen": 10000, "order_ref": "POS-1"},
        headers={**cashier, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert_error(status, body, 409, "expired")


async def test_once_sold_out_losers_are_answered_from_memory_for_a_second(api: Api) -> None:
    import asyncio

    import asyncpg

    batch = await api.create_batch(quantity=1)
    path = f"/api/v1/batches/{batch['id']}/claims"
    await api.call("POST", path, headers=api.auth("resident", "first"), expect=201)
    status, body = await api.call("POST", path, headers=api.auth("resident", "second"))
    assert_error(status, body, 409, "sold_out")
    # Stock added behind the service's back (not through PATCH, which would tell it): for up
    # to a second this process still answers sold_out without asking the database...
    conn = await asyncpg.connect(api.settings.database_url)
    try:
        await conn.execute("UPDATE batches SET quantity = 2 WHERE id = $1", batch["id"])
    finally:
        await conn.close()
    status, body = await api.call("POST", path, headers=api.auth("resident", "third"))
    assert_error(status, body, 409, "sold_out")
    # ...and then learns the truth.
    await asyncio.sleep(1.05)
    await api.call("POST", path, headers=api.auth("resident", "third"), expect=201)
