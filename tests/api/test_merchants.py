"""Merchant administration by the bureau (API.md: "Merchants (bureau)"), over real HTTP."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import pytest

from service.credit_code import (
    ALPHABET,
    WEIGHTS,
    check_character,
    credit_code_error,
    with_check_character,
)
from tests.conftest import Api, assert_error, assert_invalid, assert_queries_invalid
from tests.support.factories import credit_code, merchant_body

MERCHANTS = "/api/v1/admin/merchants"
FIELDS = ("name", "category", "credit_code", "district", "address", "contact_phone")


def assert_beijing_time(value: Any) -> None:
    assert isinstance(value, str) and value.endswith("+08:00"), value
    assert datetime.fromisoformat(value).utcoffset() == timedelta(hours=8), value


async def post_merchant(api: Api, body: Any) -> tuple[int, Any]:
    return await api.call("POST", MERCHANTS, json=body, headers=api.bureau)


async def patch_merchant(api: Api, merchant_id: int | str, body: Any) -> tuple[int, Any]:
    return await api.call("PATCH", f"{MERCHANTS}/{merchant_id}", json=body, headers=api.bureau)


async def fetch_merchant_row(api: Api, merchant_id: int) -> asyncpg.Record:
    conn = await asyncpg.connect(api.settings.database_url)
    try:
        row = await conn.fetchrow("SELECT * FROM merchants WHERE id = $1", merchant_id)
    finally:
        await conn.close()
    assert row is not None
    return row


# --- creation -------------------------------------------------------------------------


async def test_create_returns_the_whole_merchant_and_an_api_key(api: Api) -> None:
    body = merchant_body()
    status, created = await post_merchant(api, body)

    assert status == 201, created
    assert set(created) == {"merchant", "api_key"}
    merchant = created["merchant"]
    assert isinstance(merchant["id"], int) and merchant["id"] > 0
    assert_beijing_time(merchant["created_at"])
    assert_beijing_time(merchant["updated_at"])
    assert merchant == {
        "id": merchant["id"],
        "name": "济南远大购物广场",
        "category": "shopping",
        "credit_code": body["credit_code"],
        "district": "槐荫区",
        "address": "济南市槐荫区经十路与腊山河西路交叉口",
        "contact_phone": "138****5678",
        "status": "active",
        "daily_subsidy_cap_fen": None,
        "account_name": None,
        "account_no": None,
        "street": None,
        "lat": None,
        "lng": None,
        "hours": None,
        "created_at": merchant["created_at"],
        "updated_at": merchant["updated_at"],
    }
    assert isinstance(created["api_key"], str) and len(created["api_key"]) >= 32


async def test_api_key_is_stored_only_as_a_hash_and_signs_the_merchant_in(api: Api) -> None:
    created = await api.create_merchant()
    key, merchant_id = created["api_key"], created["merchant"]["id"]

    row = await fetch_merchant_row(api, merchant_id)
    assert isinstance(row["api_key_hash"], bytes)
    assert row["api_key_hash"] != key.encode()
    for column, value in row.items():
        raw = value if isinstance(value, bytes) else str(value).encode()
        assert key.encode() not in raw, f"column {column} holds the api key"

    await api.call(
        "POST",
        "/api/v1/auth/merchant",
        json={"merchant_id": merchant_id, "api_key": key},
        expect=200,
    )
    status, body = await api.call(
        "POST", "/api/v1/auth/merchant", json={"merchant_id": merchant_id, "api_key": key + "x"}
    )
    assert_error(status, body, 401, "unauthorized")


async def test_contact_phone_is_never_returned_unmasked(api: Api) -> None:
    created = await api.create_merchant(contact_phone="13812345678")
    merchant_id = created["merchant"]["id"]

    _, listed = await api.call("GET", MERCHANTS, headers=api.bureau, expect=200)
    _, one = await api.call("GET", f"{MERCHANTS}/{merchant_id}", headers=api.bureau, expect=200)
    assert [m["contact_phone"] for m in listed] == ["138****5678"]
    assert one["contact_phone"] == "138****5678"
    for answer in (created, listed, one):
        assert "13812345678" not in json.dumps(answer)

    status, patched = await patch_merchant(api, merchant_id, {"contact_phone": "13900001111"})
    assert status == 200, patched
    assert patched["contact_phone"] == "139****1111"
    assert "13900001111" not in json.dumps(patched)
    _, one = await api.call("GET", f"{MERCHANTS}/{merchant_id}", headers=api.bureau, expect=200)
    assert one["contact_phone"] == "139****1111"


async def test_a_landline_is_accepted_and_masked(api: Api) -> None:
    created = await api.create_merchant(contact_phone="0531-88886666")
    phone = created["merchant"]["contact_phone"]
    assert "****" in phone and phone.endswith("6666") and "88886666" not in phone


async def test_duplicate_credit_code_is_a_conflict(api: Api) -> None:
    code = credit_code()
    await api.create_merchant(credit_code=code)
    status, body = await post_merchant(api, merchant_body(credit_code=code, name="另一家"))
    assert_error(status, body, 409, "conflict")
    _, listed = await api.call("GET", MERCHANTS, headers=api.bureau, expect=200)
    assert len(listed) == 1


# --- 统一社会信用代码 (GB 32100-2015) -------------------------------------------------------


def test_weights_are_powers_of_three_modulo_31() -> None:
    assert len(ALPHABET) == 31 and not set("IOZSV") & set(ALPHABET)
    assert tuple(pow(3, i, 31) for i in range(17)) == WEIGHTS


@pytest.mark.parametrize(
    "code",
    [
        "91350100M000100Y43",  # the worked example of GB 32100-2015
        "91440300708461136T",  # 深圳市腾讯计算机系统有限公司
        "914403001922038216",  # 华为技术有限公司
        "91330100716105852F",  # 阿里巴巴(中国)有限公司
    ],
)
def test_check_character_of_published_codes(code: str) -> None:
    assert check_character(code[:17]) == code[17]
    assert credit_code_error(code) is None


@pytest.mark.parametrize("first17", ["91370104MA3C4TXY0", "12370000000000000", "Y1370104MA0000001"])
def test_check_character_completes_the_weighted_sum_to_a_multiple_of_31(first17: str) -> None:
    code = with_check_character(first17)
    # The check character carries weight 1: the whole weighted sum is 0 modulo 31.
    total = sum(ALPHABET.index(ch) * w for ch, w in zip(code, (*WEIGHTS, 1), strict=True))
    assert total % 31 == 0


async def test_a_valid_credit_code_is_accepted_and_a_wrong_check_character_refused(
    api: Api,
) -> None:
    valid = with_check_character("91370104MA3C4TXY0")
    await api.create_merchant(credit_code=valid)

    other = with_check_character("91370104MA3C4TXY1")
    wrong = other[:17] + ALPHABET[(ALPHABET.index(other[17]) + 1) % 31]
    status, body = await post_merchant(api, merchant_body(credit_code=wrong))
    assert_invalid(status, body, "credit_code")


async def test_malformed_credit_codes_are_refused(api: Api) -> None:
    valid = with_check_character("91370104MA3C4TXY0")
    cases: list[Any] = [
        valid[:17],  # too short
        valid + "0",  # too long
        "",
        valid.lower(),
        with_check_character("91AB0104MA3C4TXY0"),  # characters 3–8 not a division code
        918370104,  # not a string
        None,
    ]
    # I, O, Z, S and V are not in the alphabet, wherever they stand.
    cases += [valid[:10] + letter + valid[11:] for letter in "IOZSV"]
    cases += [valid[:17] + letter for letter in "IOZSV"]
    for code in cases:
        status, body = await post_merchant(api, merchant_body(credit_code=code))
        assert_invalid(status, body, "credit_code", code)
    _, listed = await api.call("GET", MERCHANTS, headers=api.bureau, expect=200)
    assert listed == []


# --- validation -----------------------------------------------------------------------


async def test_every_missing_field_is_named(api: Api) -> None:
    for field in FIELDS:
        body = merchant_body()
        del body[field]
        status, answer = await post_merchant(api, body)
        assert_invalid(status, answer, field, field)


async def test_wrong_values_are_refused_with_the_field_named(api: Api) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"api_key": "mine"}, "api_key"),  # unknown field
        ({"status": "active"}, "status"),  # not settable on creation
        ({"name": 123}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": None}, "name"),
        ({"category": 1}, "category"),
        ({"category": "food"}, "category"),
        ({"category": "Shopping"}, "category"),
        ({"district": ["槐荫区"]}, "district"),
        ({"address": {"road": "经十路"}}, "address"),
        ({"contact_phone": 13812345678}, "contact_phone"),
        ({"contact_phone": "12345"}, "contact_phone"),
        ({"contact_phone": "1381234567"}, "contact_phone"),  # ten digits
        ({"contact_phone": "23812345678"}, "contact_phone"),
        ({"contact_phone": "+8613812345678"}, "contact_phone"),
        ({"contact_phone": "138-1234-5678x"}, "contact_phone"),
    ]
    for override, field in cases:
        status, body = await post_merchant(api, merchant_body(**override))
        assert_invalid(status, body, field, override)
    _, listed = await api.call("GET", MERCHANTS, headers=api.bureau, expect=200)
    assert listed == []


async def test_a_blank_name_is_invalid_request(api: Api) -> None:
    status, body = await post_merchant(api, merchant_body(name="   "))
    assert_invalid(status, body, "name")


async def test_patch_to_a_blank_name_is_invalid_request(api: Api) -> None:
    merchant_id = (await api.create_merchant())["merchant"]["id"]
    status, body = await patch_merchant(api, merchant_id, {"name": " \t "})
    assert_invalid(status, body, "name")


async def test_a_blank_district_or_address_is_invalid_request(api: Api) -> None:
    for field in ("district", "address"):
        status, body = await post_merchant(api, merchant_body(**{field: "   "}))
        assert_invalid(status, body, field, field)


# --- listing and reading --------------------------------------------------------------


async def test_list_filters_by_category_and_status(api: Api) -> None:
    shop = (await api.create_merchant(category="shopping"))["merchant"]["id"]
    diner = (await api.create_merchant(category="dining"))["merchant"]["id"]
    closed_diner = (await api.create_merchant(category="dining"))["merchant"]["id"]
    await patch_merchant(api, closed_diner, {"status": "suspended"})

    async def ids(query: str) -> list[int]:
        _, body = await api.call("GET", MERCHANTS + query, headers=api.bureau, expect=200)
        return [m["id"] for m in body]

    assert await ids("") == [shop, diner, closed_diner]
    assert await ids("?category=dining") == [diner, closed_diner]
    assert await ids("?status=suspended") == [closed_diner]
    assert await ids("?status=active") == [shop, diner]
    assert await ids("?category=dining&status=active") == [diner]
    assert await ids("?category=auto") == []


async def test_list_refuses_bad_filters_and_unknown_parameters(api: Api) -> None:
    bad = "?category=food ?category= ?status=closed ?status=ACTIVE ?page=2"
    await assert_queries_invalid(api, MERCHANTS, bad, api.bureau)


async def test_get_one_merchant_or_not_found(api: Api) -> None:
    created = (await api.create_merchant())["merchant"]
    _, one = await api.call("GET", f"{MERCHANTS}/{created['id']}", headers=api.bureau, expect=200)
    assert one == created

    for missing in ("999999", "abc", "1.5", "-1", "1e3", "9" * 30):
        status, body = await api.call("GET", f"{MERCHANTS}/{missing}", headers=api.bureau)
        assert_error(status, body, 404, "not_found")


# --- changes --------------------------------------------------------------------------


async def test_suspend_and_reactivate(api: Api) -> None:
    created = (await api.create_merchant())["merchant"]

    status, suspended = await patch_merchant(api, created["id"], {"status": "suspended"})
    assert status == 200, suspended
    assert suspended["status"] == "suspended"
    assert {k: v for k, v in suspended.items() if k not in ("status", "updated_at")} == {
        k: v for k, v in created.items() if k not in ("status", "updated_at")
    }
    assert_beijing_time(suspended["updated_at"])
    assert suspended["updated_at"] >= created["updated_at"]
    _, one = await api.call("GET", f"{MERCHANTS}/{created['id']}", headers=api.bureau, expect=200)
    assert one["status"] == "suspended"

    status, active = await patch_merchant(api, created["id"], {"status": "active"})
    assert status == 200, active
    assert active["status"] == "active"


async def test_patch_refuses_bad_bodies_and_unknown_merchants(api: Api) -> None:
    merchant_id = (await api.create_merchant())["merchant"]["id"]
    for patch, field in [
        ({}, "_schema"),
        ({"credit_code": credit_code()}, "credit_code"),  # not changeable
        ({"category": "dining"}, "category"),
        ({"nickname": "远大"}, "nickname"),
        ({"status": "closed"}, "status"),
        ({"status": True}, "status"),
        ({"status": None}, "status"),
        ({"contact_phone": "12345"}, "contact_phone"),
    ]:
        status, body = await patch_merchant(api, merchant_id, patch)
        assert_invalid(status, body, field, patch)

    _, one = await api.call("GET", f"{MERCHANTS}/{merchant_id}", headers=api.bureau, expect=200)
    assert one["status"] == "active" and one["category"] == "shopping"

    for missing in (999999, "abc"):
        status, body = await patch_merchant(api, missing, {"status": "suspended"})
        assert_error(status, body, 404, "not_found")


# --- roles ----------------------------------------------------------------------------


async def test_only_the_bureau_may_use_the_merchant_routes(api: Api) -> None:
    merchant_id = (await api.create_merchant())["merchant"]["id"]
    routes: list[tuple[str, str, Any]] = [
        ("POST", MERCHANTS, merchant_body()),
        ("GET", MERCHANTS, None),
        ("GET", f"{MERCHANTS}/{merchant_id}", None),
        ("PATCH", f"{MERCHANTS}/{merchant_id}", {"status": "suspended"}),
    ]
    outsiders = [
        ({}, 401, "unauthorized"),
        ({"Authorization": "Bearer not-a-token"}, 401, "unauthorized"),
        (api.auth("resident"), 403, "forbidden"),
        (api.auth("merchant", mid=merchant_id), 403, "forbidden"),
    ]
    for method, path, body in routes:
        for headers, expected, code in outsiders:
            status, answer = await api.call(method, path, json=body, headers=headers)
            assert status == expected, (method, path, headers, answer)
            assert_error(status, answer, expected, code)

    _, listed = await api.call("GET", MERCHANTS, headers=api.bureau, expect=200)
    assert [(m["id"], m["status"]) for m in listed] == [(merchant_id, "active")]
