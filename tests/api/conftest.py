"""Fixtures of the HTTP tests: the app trusting the city identity platform."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from service.app import create_app
from tests.conftest import Api
from tests.support.persons import PID_KEY
from tests.support.tokens import public_pem


@pytest.fixture
async def city(api: Api, aiohttp_client: Any) -> tuple[Api, rsa.RSAPrivateKey]:
    """The app trusting the identity platform's key, and deriving pids with its key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    settings = dataclasses.replace(
        api.settings, jwt_public_key=public_pem(key).decode(), pid_key=PID_KEY
    )
    client = await aiohttp_client(create_app(settings=settings, clock=api.clock, sms=api.sms))
    return Api(client, settings, api.clock, api.sms), key
