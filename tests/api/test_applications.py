"""Joining (商户报名, API.md "Where to spend, joining…"): applying with an SMS-verified phone,
the bureau's review (approval creates the merchant), and the approved merchant collecting its
api key with an SMS code to the same phone."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import pytest

from service.domain.applications import decision_message
from service.domain.audit import LOCK_NAMESPACE as AUDIT_LOCK
from tests.conftest import Api, assert_error, assert_invalid, assert_queries_invalid
from tests.support.applications import (
    ACCOUNT,
    APPLICATIONS,
    APPLY,
    MERCHANT_KEY,
    PHONE,
    application_body,
    apply,
    code_for,
)
from tests.support.factories import credit_code
from tests.support.races import holding, started, waiting


async def pending(api: Api) -> list[dict[str, Any]]:
    _, body = await api.call(
        "GET", f"{APPLICATIONS}?status=submitted", headers=api.bureau, expect=200
    )
    return list(body["items"])


async def review(
    api: Api, application_id: int, decision: str = "approve", note: str = "材料齐全"
) -> tuple[int, Any]:
    return await api.call(
        "POST",
        f"{APPLICATIONS}/{application_id}/review",
        json={"decision": decision, "note": note},
        headers=api.bureau,
    )


async def db_row(api: Api, sql: str, *args: Any) -> asyncpg.Record | None:
    conn = await asyncpg.connect(api.settings.database_url)
    try:
        return await conn.fetchrow(sql, *args)
    finally:
        await conn.close()


# --- applying --------------------------------------------------------------------------------


async def test_an_application_with_the_sms_code_is_submitted_and_listed_masked(api: Api) -> None:
    body = application_body()
    body["code"] = await code_for(api)
    resp = await api.client.post(APPLY, json=body)  # no token
    assert resp.status == 201
    answer = await resp.json()
    assert answer == {"id": answer["id"], "status": "submitted"}
    items = await pending(api)
    assert len(items) == 1
    item = items[0]
    assert item == {
        "id": answer["id"],
        "name": "老济南把子肉营市街店",
        "credit_code": body["credit_code"],
        "category": "dining",
        "district": "槐荫区",
        "address": "济南市槐荫区营市街88号",
        "street": "营市街街道",
        "lat": 36.6622,
        "lng": 116.9531,
        "hours": "10:00-02:00",
        "contact_phone": "139****5678",
        "account_name": "济南老济南餐饮有限公司",
        "account_no": "**** **** 3445",
        "status": "submitted",
        "submitted_at": "2020-05-06T10:01:01+08:00",
        "reviewed_by": None,
        "reviewed_at": None,
        "note": None,
        "merchant_id": None,
    }
    _, every = await api.call("GET", APPLICATIONS, headers=api.bureau, expect=200)
    assert every["items"] == items
    text = json.dumps(every, ensure_ascii=False)
    assert PHONE not in text and ACCOUNT not in text
    csv = await api.client.get(f"{APPLICATIONS}?format=csv", headers=api.bureau)
    assert csv.status == 200 and csv.content_type == "text/csv"
    text = await csv.text()
    assert "139****5678" in text and PHONE not in text and ACCOUNT not in text


async def test_the_sms_code_is_single_use_and_locks_after_five_wrong_tries(api: Api) -> None:
    code = await code_for(api)
    wrong = "000000" if code != "000000" else "111111"
    status, body = await apply(api, expect=None, code=wrong)
    assert_error(status, body, 401, "unauthorized")
    assert body["error"]["details"] == {"attempts_left": 4}
    await apply(api, code=code)
    # Spent: the same code again is refused, even for another business.
    status, body = await apply(api, expect=None, code=code, credit_code=credit_code())
    assert_error(status, body, 401, "unauthorized")
    # Five wrong tries lock the next code, the right one included.
    code = await code_for(api)
    for left in (4, 3, 2, 1, 0):
        status, body = await apply(api, expect=None, code=wrong, credit_code=credit_code())
        assert_error(status, body, 401, "unauthorized")
        assert body["error"]["details"] == {"attempts_left": left}
    status, body = await apply(api, expect=None, code=code, credit_code=credit_code())
    assert_error(status, body, 401, "unauthorized")
    assert body["error"]["details"] == {"reason": "locked"}
    assert len(await pending(api)) == 1


async def test_an_expired_or_never_sent_code_is_401(api: Api) -> None:
    status, body = await apply(api, expect=None, code="123456")
    assert_error(status, body, 401, "unauthorized")
    code = await code_for(api)
    api.clock.advance(minutes=5, seconds=1)
    status, body = await apply(api, expect=None, code=code)
    assert_error(status, body, 401, "unauthorized")
    assert "expired" in body["error"]["message"]
    assert await pending(api) == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("credit_code", "91370104MA0000001X"),  # wrong check character
        ("credit_code", "91370104MA000000"),
        ("contact_phone", "0531-88886666"),  # a landline gets no SMS
        ("contact_phone", "13912345678\n"),
        ("contact_phone", "１３９１２３４５６７８"),
        ("code", "12345"),
        ("code", "١٢٣٤٥٦"),
        ("account_no", "6222-0202"),
        ("account_no", None),
        ("account_name", ""),
        ("street", "   "),
        ("category", "food"),
        ("name", "店\u202e名"),
        ("hours", "25:00-26:00"),
        ("hours", "12:00-12:00"),
        ("lat", 91),
        ("lng", "116.9"),
        ("extra", "mass assignment"),
        ("status", "approved"),
        ("merchant_id", 1),
    ],
)
async def test_bad_applications_are_400(api: Api, field: str, value: Any) -> None:
    body = application_body(**{"code": "123456", field: value})
    if value is None:
        del body[field]
    status, answer = await api.call("POST", APPLY, json=body)
    assert_invalid(status, answer, field, (field, value))


async def test_missing_fields_are_400(api: Api) -> None:
    status, body = await api.call("POST", APPLY, json={})
    assert_error(status, body, 400, "invalid_request")
    for name in ("name", "credit_code", "category", "address", "street", "contact_phone", "code"):
        assert name in body["error"]["details"], name
    status, body = await api.call("POST", APPLY, json=application_body(lat=36.6, lng=None))
    assert_invalid(status, body, "lng")


async def test_a_credit_code_already_a_merchant_or_pending_is_409(api: Api) -> None:
    merchant = await api.create_merchant()
    code = await code_for(api)
    status, body = await apply(
        api, expect=None, code=code, credit_code=merchant["merchant"]["credit_code"]
    )
    assert_error(status, body, 409, "duplicate_application")
    # The refusal left the code unspent: the business fixes its code and applies with it.
    first = application_body()["credit_code"]
    await apply(api, code=code, credit_code=first)
    status, body = await apply(api, expect=None, credit_code=first, contact_phone="13700001111")
    assert_error(status, body, 409, "duplicate_application")
    # Once rejected, the same business may apply again.
    (item,) = await pending(api)
    assert (await review(api, item["id"], "reject", "营业执照照片不清晰"))[0] == 200
    await apply(api, credit_code=first)


async def test_two_applications_of_one_credit_code_at_once_make_one(api: Api) -> None:
    """The second insert waits on the first's uncommitted row and then fails on the exclusion
    constraint merchant_applications_one_pending: both passed the check for a merchant before
    either committed. The first is held at its foreign-key check (the category's row), after
    its insert."""
    same = credit_code()
    first = application_body(credit_code=same, code=await code_for(api))
    second = application_body(
        credit_code=same, contact_phone="13700001111", code=await code_for(api, "13700001111")
    )
    async with holding(api, "SELECT 1 FROM categories WHERE code = 'dining' FOR UPDATE"):
        one = started(api.call("POST", APPLY, json=first))
        await waiting(api, 1)
        two = started(api.call("POST", APPLY, json=second))
        await waiting(api, 2)
    assert (await one)[0] == 201
    assert_error(*await two, 409, "duplicate_application")
    assert len(await pending(api)) == 1


# --- the bureau's review -----------------------------------------------------------------------


async def test_approval_creates_the_merchant_with_the_account_in_one_audited_step(api: Api) -> None:
    _, submitted = await apply(api)
    status, decided = await review(api, submitted["id"], "approve", "材料齐全，同意")
    assert status == 200, decided
    mid = decided["merchant_id"]
    assert isinstance(mid, int)
    assert decided["status"] == "approved" and decided["reviewed_by"] == "bureau-test"
    assert decided["note"] == "材料齐全，同意"
    assert decided["reviewed_at"] == "2020-05-06T10:01:01+08:00"
    # The message tells the way in, with no secret.
    assert str(mid) in decided["message"] and "/cashier" in decided["message"]
    assert "领取密钥" in decided["message"]
    assert "api_key" not in json.dumps(decided) and PHONE not in json.dumps(decided)
    _, merchant = await api.call(
        "GET", f"/api/v1/admin/merchants/{mid}", headers=api.bureau, expect=200
    )
    assert {k: merchant[k] for k in ("name", "category", "street", "lat", "lng", "hours")} == {
        "name": "老济南把子肉营市街店",
        "category": "dining",
        "street": "营市街街道",
        "lat": 36.6622,
        "lng": 116.9531,
        "hours": "10:00-02:00",
    }
    assert merchant["status"] == "active" and merchant["district"] == "槐荫区"
    assert merchant["contact_phone"] == "139****5678"
    assert merchant["account_no"] == "**** **** 3445"
    stored = await db_row(api, "SELECT account_no, contact_phone FROM merchants WHERE id = $1", mid)
    assert stored is not None and tuple(stored) == (ACCOUNT, PHONE)  # as the payments code reads it
    trail = await api.audit()
    actions = [(e["action"], e["actor"]) for e in trail]
    assert ("merchant.create", "bureau-test") in actions
    assert ("merchant_application.review", "bureau-test") in actions
    entry = next(e for e in trail if e["action"] == "merchant_application.review")
    assert entry["after"]["status"] == "approved" and entry["after"]["merchant_id"] == mid
    assert ACCOUNT not in json.dumps(trail) and PHONE not in json.dumps(trail)
    # It is in the directory, and nothing is pending.
    _, found = await api.call(
        "GET", "/api/v1/merchants?street=%E8%90%A5%E5%B8%82%E8%A1%97%E8%A1%97%E9%81%93", expect=200
    )
    assert [i["id"] for i in found["items"]] == [mid]
    assert await pending(api) == []


async def test_rejection_creates_nothing_and_tells_why(api: Api) -> None:
    _, submitted = await apply(api)
    status, decided = await review(api, submitted["id"], "reject", "经营地址不在槐荫区")
    assert status == 200, decided
    assert decided["status"] == "rejected" and decided["merchant_id"] is None
    assert "经营地址不在槐荫区" in decided["message"]
    _, merchants = await api.call("GET", "/api/v1/admin/merchants", headers=api.bureau, expect=200)
    assert merchants == []


async def test_deciding_twice_is_409_already_reviewed(api: Api) -> None:
    _, submitted = await apply(api)
    assert (await review(api, submitted["id"], "reject", "不符合条件"))[0] == 200
    for decision in ("approve", "reject"):
        status, body = await review(api, submitted["id"], decision)
        assert_error(status, body, 409, "already_reviewed")
        assert body["error"]["details"]["status"] == "rejected"


@pytest.mark.parametrize(
    "decisions", [("approve", "approve"), ("approve", "reject"), ("reject", "approve")]
)
async def test_two_reviews_at_once_exactly_one_decides(
    api: Api, decisions: tuple[str, str]
) -> None:
    """The first review is held at its audit entry, its decision made but not committed; the
    second waits for the application's row, then finds it decided."""
    _, submitted = await apply(api)
    async with holding(api, "SELECT pg_advisory_xact_lock($1::int, 0)", AUDIT_LOCK):
        first = started(review(api, submitted["id"], decisions[0]))
        await waiting(api, 1)
        second = started(review(api, submitted["id"], decisions[1]))
        await waiting(api, 2)
    status, decided = await first
    assert (
        status == 200
        and decided["status"] == {"approve": "approved", "reject": "rejected"}[decisions[0]]
    )
    assert_error(*await second, 409, "already_reviewed")
    _, merchants = await api.call("GET", "/api/v1/admin/merchants", headers=api.bureau, expect=200)
    assert len(merchants) == (1 if decisions[0] == "approve" else 0)


async def test_a_merchant_made_meanwhile_stops_the_approval(api: Api) -> None:
    _, submitted = await apply(api)
    (item,) = await pending(api)
    await api.create_merchant(credit_code=item["credit_code"])
    status, body = await review(api, submitted["id"])
    assert_error(status, body, 409, "duplicate_application")
    assert [i["id"] for i in await pending(api)] == [submitted["id"]]
    assert (await review(api, submitted["id"], "reject", "已是参与商户"))[0] == 200


async def test_review_refusals(api: Api) -> None:
    _, submitted = await apply(api)
    path = f"{APPLICATIONS}/{submitted['id']}/review"
    for body, field in (
        ({"decision": "approve"}, "note"),
        ({"decision": "maybe", "note": "x"}, "decision"),
        ({"decision": "approve", "note": ""}, "note"),
        ({"decision": "approve", "note": "x", "merchant_id": 5}, "merchant_id"),
    ):
        status, answer = await api.call("POST", path, json=body, headers=api.bureau)
        assert_invalid(status, answer, field, body)
    status, answer = await review(api, 999999)
    assert_error(status, answer, 404, "not_found")
    status, answer = await api.call(
        "POST",
        f"{APPLICATIONS}/abc/review",
        json={"decision": "approve", "note": "x"},
        headers=api.bureau,
    )
    assert_error(status, answer, 404, "not_found")
    await assert_queries_invalid(
        api, APPLICATIONS, "?status=pending ?limit=0 ?format=xml", headers=api.bureau
    )


async def test_only_the_bureau_lists_and_reviews(api: Api) -> None:
    _, submitted = await apply(api)
    path = f"{APPLICATIONS}/{submitted['id']}/review"
    merchant = await api.merchant()
    for headers in (api.auth("resident", "alice"), merchant.headers):
        status, body = await api.call("GET", APPLICATIONS, headers=headers)
        assert_error(status, body, 403, "forbidden")
        status, body = await api.call(
            "POST", path, json={"decision": "approve", "note": "x"}, headers=headers
        )
        assert_error(status, body, 403, "forbidden")
    for method, where in (("GET", APPLICATIONS), ("POST", path)):
        status, body = await api.call(method, where, json={"decision": "approve", "note": "x"})
        assert_error(status, body, 401, "unauthorized")
    assert [i["id"] for i in await pending(api)] == [submitted["id"]]


def test_the_decision_messages_say_how_to_sign_in_and_hold_no_secret() -> None:
    approved = {"name": "好再来饭店", "status": "approved", "merchant_id": 42, "note": "同意"}
    text = decision_message(approved)
    assert text.startswith("【春暖槐荫消费节】好再来饭店")
    assert "商户编号 42" in text and "/cashier" in text and "报名手机号" in text
    rejected = {"name": "好再来饭店", "status": "rejected", "merchant_id": None, "note": "证照过期"}
    text = decision_message(rejected)
    assert "未通过" in text and "证照过期" in text and "42" not in text


# --- the approved merchant collects its key ----------------------------------------------------


async def approved_merchant(api: Api) -> int:
    _, submitted = await apply(api)
    _, decided = await review(api, submitted["id"])
    return int(decided["merchant_id"])


async def test_the_approved_merchant_collects_a_key_with_an_sms_code(api: Api) -> None:
    mid = await approved_merchant(api)
    code = await code_for(api)
    resp = await api.client.post(
        MERCHANT_KEY, json={"merchant_id": mid, "phone": PHONE, "code": code}
    )
    assert resp.status == 200
    assert resp.headers["Cache-Control"] == "no-store"
    issued = await resp.json()
    assert set(issued) == {"merchant_id", "api_key"} and issued["merchant_id"] == mid
    _, login = await api.call(
        "POST",
        "/api/v1/auth/merchant",
        json={"merchant_id": mid, "api_key": issued["api_key"]},
        expect=200,
    )
    assert login["token_type"] == "Bearer"
    # A second key replaces the first.
    code = await code_for(api)
    _, again = await api.call(
        "POST", MERCHANT_KEY, json={"merchant_id": mid, "phone": PHONE, "code": code}, expect=200
    )
    status, body = await api.call(
        "POST", "/api/v1/auth/merchant", json={"merchant_id": mid, "api_key": issued["api_key"]}
    )
    assert_error(status, body, 401, "unauthorized")
    await api.call(
        "POST",
        "/api/v1/auth/merchant",
        json={"merchant_id": mid, "api_key": again["api_key"]},
        expect=200,
    )
    trail = await api.audit(action="merchant.api_key_reissued")
    assert [e["actor"] for e in trail] == [f"merchant:{mid}"] * 2
    assert issued["api_key"] not in json.dumps(trail) and again["api_key"] not in json.dumps(trail)


async def test_a_key_goes_only_to_the_merchants_own_phone_and_code(api: Api) -> None:
    mid = await approved_merchant(api)
    other = "13700001111"
    # Someone else's phone, with its own right code: refused, and that code is spent.
    code = await code_for(api, other)
    status, body = await api.call(
        "POST", MERCHANT_KEY, json={"merchant_id": mid, "phone": other, "code": code}
    )
    assert_error(status, body, 401, "unauthorized")
    status, body = await api.call(
        "POST", MERCHANT_KEY, json={"merchant_id": mid, "phone": other, "code": code}
    )
    assert_error(status, body, 401, "unauthorized")
    # The right phone with a wrong code, or an unknown merchant.
    code = await code_for(api)
    wrong = "000000" if code != "000000" else "111111"
    status, body = await api.call(
        "POST", MERCHANT_KEY, json={"merchant_id": mid, "phone": PHONE, "code": wrong}
    )
    assert_error(status, body, 401, "unauthorized")
    status, body = await api.call(
        "POST", MERCHANT_KEY, json={"merchant_id": mid + 99, "phone": PHONE, "code": code}
    )
    assert_error(status, body, 401, "unauthorized")
    for bad in (
        {"merchant_id": "1", "phone": PHONE, "code": code},
        {"merchant_id": mid, "phone": "0531-88886666", "code": code},
        {"merchant_id": mid, "phone": PHONE},
    ):
        status, body = await api.call("POST", MERCHANT_KEY, json=bad)
        assert_error(status, body, 400, "invalid_request")
    assert await api.audit(action="merchant.api_key_reissued") == []
