"""No stranger can lock a merchant or the bureau out (the hardening review, issue 11): wrong
attempts count per client address, and right ones do not count toward the limit."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from service import keys
from service.app import create_app
from service.domain.context import Context
from tests.conftest import Api, assert_error


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
        username="analyst",
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
