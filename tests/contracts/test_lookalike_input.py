"""One phone, one resident (the hardening review, issue 11): phones, login codes, ids in
paths and integers in queries are ASCII digits, matched in full, so look-alikes (full-width,
Arabic-Indic, a trailing newline) are refused."""

from __future__ import annotations

import pytest

from service import keys
from tests.conftest import Api, assert_error

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
    from tests.support.factories import merchant_body

    status, body = await api.call(
        "POST",
        "/api/v1/admin/merchants",
        json=merchant_body(contact_phone=phone),
        headers=api.bureau,
    )
    assert_error(status, body, 400, "invalid_request")
    assert "contact_phone" in body["error"]["details"]
