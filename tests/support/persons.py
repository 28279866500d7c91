"""One person behind several accounts: the city identity platform's tokens (RS256, with a
`pid`) and the SMS login's, which derive the same person from the phone."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.conftest import Api
from tests.support.tokens import claims

PID_KEY = "shared-with-the-city-identity-platform"
PHONE = "13800138000"


def pid_of(phone: str) -> str:
    return hmac.new(PID_KEY.encode(), phone.encode(), hashlib.sha256).hexdigest()


async def sms_token(api: Api, phone: str = PHONE) -> str:
    await api.call("POST", "/api/v1/auth/otp", json={"phone": phone}, expect=202)
    _, body = await api.call(
        "POST",
        "/api/v1/auth/resident",
        json={"phone": phone, "code": api.sms.codes[phone]},
        expect=200,
    )
    return str(body["access_token"])


def platform_token(key: rsa.RSAPrivateKey, sub: str, pid: str | None) -> str:
    payload = claims(role="resident", sub=sub, pid=pid)
    return jwt.encode(payload, key, algorithm="RS256")


async def claim(api: Api, batch_id: int, token: str) -> tuple[int, Any]:
    return await api.call(
        "POST", f"/api/v1/batches/{batch_id}/claims", headers={"Authorization": f"Bearer {token}"}
    )
