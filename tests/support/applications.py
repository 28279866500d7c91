"""Joining (商户报名) from a test: an application's body and submitting it with a fresh SMS
code, as an applicant's phone would."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api
from tests.support.factories import credit_code

APPLY = "/api/v1/merchant-applications"
APPLICATIONS = "/api/v1/admin/merchant-applications"
OTP = "/api/v1/auth/otp"
MERCHANT_KEY = "/api/v1/auth/merchant-key"
PHONE = "13912345678"
ACCOUNT = "6222020200112233445"


def application_body(**overrides: Any) -> dict[str, Any]:
    body = {
        "name": "老济南把子肉营市街店",
        "credit_code": credit_code(),
        "category": "dining",
        "address": "济南市槐荫区营市街88号",
        "street": "营市街街道",
        "contact_phone": PHONE,
        "account_name": "济南老济南餐饮有限公司",
        "account_no": ACCOUNT,
        "lat": 36.6622,
        "lng": 116.9531,
        "hours": "10:00-02:00",
    }
    body.update(overrides)
    return body


async def code_for(api: Api, phone: str = PHONE) -> str:
    """A fresh SMS code for `phone` (a minute later than the last, as the limit wants)."""
    api.clock.advance(seconds=61)
    await api.call("POST", OTP, json={"phone": phone}, expect=202)
    return api.sms.codes[phone]


async def apply(api: Api, expect: int | None = 201, **overrides: Any) -> tuple[int, Any]:
    body = application_body(**overrides)
    if "code" not in overrides:
        body["code"] = await code_for(api, body["contact_phone"])
    return await api.call("POST", APPLY, json=body, expect=expect)
