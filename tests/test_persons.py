"""One person, one share (API.md, "Identity"): the city identity platform's `pid` and the SMS
login's (an HMAC of the phone under the same key) name the same person, and the per-resident
limit counts per person across accounts, whatever the concurrency."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from service.app import create_app
from tests.conftest import Api, assert_error
from tests.test_tokens import claims, public_pem

PID_KEY = "shared-with-the-city-identity-platform"
PHONE = "13800138000"


@pytest.fixture
async def city(api: Api, aiohttp_client: Any) -> tuple[Api, rsa.RSAPrivateKey]:
    """The app trusting the identity platform's key, and deriving pids with its key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    settings = dataclasses.replace(
        api.settings, jwt_public_key=public_pem(key).decode(), pid_key=PID_KEY
    )
    client = await aiohttp_client(create_app(settings=settings, clock=api.clock, sms=api.sms))
    return Api(client, settings, api.clock, api.sms), key


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


@pytest.mark.parametrize("limit", [1, 2])
async def test_one_person_with_two_accounts_gets_no_more_than_the_limit(
    city: tuple[Api, rsa.RSAPrivateKey], limit: int
) -> None:
    api, key = city
    batch = await api.create_batch(per_resident_limit=limit)
    sms = await sms_token(api)
    platform = platform_token(key, "city-7f3a", pid_of(PHONE))
    answers = await asyncio.gather(
        *(claim(api, batch["id"], sms if i % 2 else platform) for i in range(40))
    )
    assert sorted(s for s, _ in answers) == [201] * limit + [409] * (40 - limit)
    assert {b["error"]["code"] for s, b in answers if s == 409} == {"limit_reached"}
    # Someone else, and the same platform account without a pid, are other people.
    assert (await claim(api, batch["id"], platform_token(key, "city-9", pid_of("13900000000"))))[
        0
    ] == 201
    assert (await claim(api, batch["id"], platform_token(key, "city-nopid", None)))[0] == 201


async def test_an_sms_login_carries_its_pid(city: tuple[Api, rsa.RSAPrivateKey]) -> None:
    api, _ = city
    token = await sms_token(api)
    decoded = jwt.decode(token, options={"verify_signature": False})
    assert decoded["pid"] == pid_of(PHONE)


@pytest.mark.parametrize("pid", ["", "x\x00", 7, ["a"], "p" * 201])
async def test_a_malformed_pid_is_401(city: tuple[Api, rsa.RSAPrivateKey], pid: Any) -> None:
    api, key = city
    token = jwt.encode(claims(role="resident", sub="s", pid=pid), key, algorithm="RS256")
    status, body = await api.call(
        "GET", "/api/v1/me/vouchers", headers={"Authorization": f"Bearer {token}"}
    )
    assert_error(status, body, 401, "unauthorized")
