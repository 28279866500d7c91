"""Strict JWT verification: the attacks of RFC 8725 and PyJWT's known traps are refused."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from service.app import create_app
from service.settings import Settings
from tests.conftest import TEST_SECRET, Api, assert_error
from tests.support.tokens import claims, public_pem

ME = "/api/v1/auth/me"
ADMIN = "/api/v1/admin/merchants"


def hs256(**overrides: Any) -> str:
    """A token with these claims, signed like the service's own."""
    return jwt.encode(claims(**overrides), TEST_SECRET, algorithm="HS256")


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_signed(header: dict[str, Any], payload: dict[str, Any], key: bytes | None) -> str:
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    signature = (
        b"" if key is None else hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    )
    return f"{signing_input}.{b64(signature)}"


async def status_for(api: Api, token: str, path: str = ADMIN) -> tuple[int, Any]:
    return await api.call("GET", path, headers={"Authorization": f"Bearer {token}"})


async def test_a_good_token_passes(api: Api) -> None:
    token = hs256()
    status, body = await status_for(api, token, ME)
    assert (status, body) == (200, {"role": "bureau", "sub": "someone", "merchant_id": None})


@pytest.mark.parametrize(
    "token_maker",
    [
        pytest.param(
            lambda: hand_signed({"alg": "none", "typ": "JWT"}, claims(), None), id="alg-none"
        ),
        pytest.param(lambda: hand_signed({"alg": "None"}, claims(), None), id="alg-None"),
        pytest.param(
            lambda: jwt.encode(claims(), "another-secret-" + "y" * 40, algorithm="HS256"),
            id="wrong-key",
        ),
        pytest.param(
            lambda: jwt.encode(claims(exp=int(time.time()) - 120), TEST_SECRET, algorithm="HS256"),
            id="expired",
        ),
        pytest.param(lambda: hs256(aud="other-api"), id="wrong-aud"),
        pytest.param(
            lambda: hs256(aud=["other", "festival-api-x"]),
            id="aud-list",
        ),
        pytest.param(lambda: hs256(iss="evil"), id="wrong-iss"),
        pytest.param(lambda: hs256(iss="huaiyin"), id="partial-iss"),
        pytest.param(lambda: hs256(iss="huaiyin-festival-evil"), id="longer-iss"),
        pytest.param(lambda: hs256(exp=None), id="no-exp"),
        pytest.param(lambda: hs256(iss=None), id="no-iss"),
        pytest.param(lambda: hs256(aud=None), id="no-aud"),
        pytest.param(lambda: hs256(sub=None), id="no-sub"),
        pytest.param(lambda: hs256(role="admin"), id="unknown-role"),
        pytest.param(lambda: hs256(role="merchant"), id="merchant-without-mid"),
        pytest.param(lambda: hs256(role="merchant", mid="7"), id="mid-string"),
        pytest.param(
            lambda: jwt.encode(claims(), TEST_SECRET, algorithm="HS512"), id="unlisted-alg"
        ),
        pytest.param(lambda: hs256()[:-4] + "AAAA", id="tampered"),
        pytest.param(lambda: "not.a.token", id="garbage"),
    ],
)
async def test_bad_tokens_are_401(api: Api, token_maker: Any) -> None:
    status, body = await status_for(api, token_maker(), ME)
    assert_error(status, body, 401, "unauthorized")


@pytest.mark.parametrize("header", ["", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Token abc"])
async def test_missing_or_other_schemes_are_401(api: Api, header: str) -> None:
    headers = {"Authorization": header} if header else {}
    status, body = await api.call("GET", ADMIN, headers=headers)
    assert_error(status, body, 401, "unauthorized")


@pytest.fixture
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


async def platform_api(api: Api, aiohttp_client: Any, pem: bytes) -> Api:
    settings: Settings = dataclasses.replace(api.settings, jwt_public_key=pem.decode())
    client = await aiohttp_client(create_app(settings=settings, clock=api.clock, sms=api.sms))
    return Api(client, settings, api.clock, api.sms)


async def test_identity_platform_rs256_resident_tokens_verify(
    api: Api, aiohttp_client: Any, rsa_key: rsa.RSAPrivateKey
) -> None:
    platform = await platform_api(api, aiohttp_client, public_pem(rsa_key))
    token = jwt.encode(claims(role="resident", sub="city-id-42"), rsa_key, algorithm="RS256")
    status, body = await status_for(platform, token, ME)
    assert (status, body) == (200, {"role": "resident", "sub": "city-id-42", "merchant_id": None})
    # The platform's key may not mint bureau or merchant tokens.
    for extra in ({"role": "bureau"}, {"role": "merchant", "mid": 1}):
        token = jwt.encode(claims(**extra), rsa_key, algorithm="RS256")
        status, body = await status_for(platform, token, ME)
        assert_error(status, body, 401, "unauthorized")
    # Our own HS256 tokens still work beside it.
    status, _ = await status_for(platform, hs256(), ME)
    assert status == 200


async def test_eddsa_resident_tokens_verify(api: Api, aiohttp_client: Any) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    platform = await platform_api(api, aiohttp_client, public_pem(key))
    token = jwt.encode(claims(role="resident", sub="city-id-7"), key, algorithm="EdDSA")
    status, body = await status_for(platform, token, ME)
    assert status == 200 and body["sub"] == "city-id-7"


async def test_hs256_signed_with_the_public_key_is_refused(
    api: Api, aiohttp_client: Any, rsa_key: rsa.RSAPrivateKey
) -> None:
    pem = public_pem(rsa_key)
    platform = await platform_api(api, aiohttp_client, pem)
    forged = hand_signed({"alg": "HS256", "typ": "JWT"}, claims(role="resident"), pem)
    status, body = await status_for(platform, forged, ME)
    assert_error(status, body, 401, "unauthorized")


async def test_rs256_without_a_configured_key_is_refused(
    api: Api, rsa_key: rsa.RSAPrivateKey
) -> None:
    token = jwt.encode(claims(role="resident"), rsa_key, algorithm="RS256")
    status, body = await status_for(api, token, ME)
    assert_error(status, body, 401, "unauthorized")


async def test_token_command_mints_a_token_the_api_accepts(api: Api) -> None:
    from service.auth import issue_token

    shop = await api.merchant()
    token, ttl = issue_token(api.settings, role="merchant", sub="m", merchant_id=shop.id)
    status, body = await status_for(api, token, ME)
    assert (status, body) == (
        200,
        {"role": "merchant", "sub": "m", "merchant_id": shop.id, "merchant_name": shop.name},
    )
    assert ttl == api.settings.access_token_ttl_s


def _pyjwt_accepts(token: str, settings: Settings) -> bool:
    """What the verifier answered when PyJWT did all of HS256 (and the numeric-date rule)."""
    try:
        found = jwt.decode(
            token,
            settings.jwt_secret,
            algorithms=["HS256"],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={"require": ["exp", "iss", "aud", "sub", "iat"]},
            leeway=30,
        )
    except jwt.PyJWTError:
        return False
    return all(
        isinstance(found[n], int | float) and not isinstance(found[n], bool)
        for n in ("exp", "iat", "nbf")
        if n in found
    )


def test_the_fast_hs256_path_answers_as_pyjwt_does(settings: Settings) -> None:
    from service.auth import TokenVerifier, _header
    from service.errors import DomainError

    verifier = TokenVerifier(settings)
    now = int(time.time())
    secret = settings.jwt_secret.encode()
    header = {"alg": "HS256", "typ": "JWT"}
    payloads = [
        claims(),
        claims(exp="9999999999"),
        claims(exp=now - 20),  # inside the 30 s leeway
        claims(exp=now - 40),
        claims(exp=now + 0.5),
        claims(exp=True),
        claims(iat=now + 20),
        claims(iat=now + 40),
        claims(iat="now"),
        claims(nbf=now + 40),
        claims(nbf=now - 40),
        claims(nbf="later"),
        claims(iss="someone-else"),
        claims(iss=["huaiyin-festival"]),
        claims(aud=["x", "festival-api"]),
        claims(aud=["x"]),
        claims(aud=["festival-api", 5]),
        claims(aud=5),
        claims(aud={"festival-api": 1}),
        *(
            {k: v for k, v in claims().items() if k != name}
            for name in ("exp", "iat", "iss", "aud", "sub")
        ),
    ]
    tokens = [hand_signed(header, p, secret) for p in payloads]
    tokens += [
        hand_signed({"alg": "HS256"}, claims(), secret),
        hand_signed({"alg": "HS256", "kid": 5}, claims(), secret),
        hand_signed({"alg": "HS256", "kid": "k1"}, claims(), secret),
        hand_signed(header, claims(), b"another secret of enough length, 32+"),
        hand_signed(header, claims(), None),
        hs256() + "x",
        hs256().replace(".", "..", 1),
        hs256()[:-2] + "==",
        "e30.e30.e30",
        "W10.W10.",
    ]
    answers = []
    for token in tokens:
        try:
            verifier._hs256_claims(token, _header(token))
            ours = True
        except DomainError:
            ours = False
        assert ours == _pyjwt_accepts(token, settings), token
        answers.append(ours)
    # Both answers occur: two verifiers refusing everything would agree too.
    assert answers.count(True) >= 5 and answers.count(False) >= 20, answers
