"""Tokens the tests make themselves: JWT claims to sign, an RSA key's public half, and the
headers of a role for a service running in another process."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jwt
from cryptography.hazmat.primitives import serialization

from service.auth import issue_token
from service.settings import Settings
from tests.conftest import TEST_SECRET

TOKENS = Settings(
    database_url=None, data_dir=Path("."), jwt_secret=TEST_SECRET, tz=ZoneInfo("Asia/Shanghai")
)


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "iss": "huaiyin-festival",
        "aud": "festival-api",
        "sub": "someone",
        "role": "bureau",
        "iat": now,
        "exp": now + 600,
        "jti": "j1",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def public_pem(key: Any) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def bearer(role: str, sub: str, mid: int | None = None) -> dict[str, str]:
    """The headers of `role` for a `festival serve` signing with the tests' secret."""
    token, _ = issue_token(TOKENS, role=role, sub=sub, merchant_id=mid)
    return {"Authorization": f"Bearer {token}"}


def signed(**overrides: Any) -> dict[str, str]:
    """A token signed with the service's secret (a merchant's unless overridden)."""
    payload = claims(**{"sub": "m", "role": "merchant", "jti": None, **overrides})
    return {"Authorization": "Bearer " + jwt.encode(payload, TEST_SECRET, algorithm="HS256")}
