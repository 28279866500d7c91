"""Tokens, passwords and api keys.

JWTs are verified strictly (RFC 8725): the algorithm list is fixed per key, so an HS256
token can only be checked against the shared secret and an RS256/EdDSA token only against
the configured public key; `iss`, `aud`, `exp`, `sub` and `role` are required.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import re
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any, TypeGuard

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from jwt.algorithms import HMACAlgorithm

from service.errors import DomainError, ErrorCode
from service.settings import Settings
from service.vocabulary import MAX_ID, text_problem

ROLES = ("resident", "merchant", "bureau")
_ASYMMETRIC = ("RS256", "EdDSA")
_REQUIRED = ["exp", "iss", "aud", "sub", "iat"]
LEEWAY_S = 30
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*", re.ASCII)
_password_hasher = PasswordHasher()  # argon2id, salted, RFC 9106 low-memory profile
# Verified against when the username is unknown, so both paths cost the same time.
_DUMMY_HASH = _password_hasher.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class Principal:
    role: str
    sub: str
    merchant_id: int | None = None
    jti: str | None = None
    # The person behind a resident account (API.md, "Identity"): the identity platform's
    # (or the SMS login's) `pid`; an account without one is its own person.
    pid: str | None = None
    # A merchant token of one of its cashiers (None: the merchant's owner login). Checked live
    # on every request (service/domain/cashiers.py): a removed cashier's tokens stop at once.
    cashier_id: int | None = None

    @property
    def person(self) -> str:
        return f"p:{self.pid}" if self.pid is not None else f"r:{self.sub}"


def issue_token(
    settings: Settings,
    *,
    role: str,
    sub: str,
    merchant_id: int | None = None,
    pid: str | None = None,
    cashier_id: int | None = None,
) -> tuple[str, int]:
    """An HS256 access token and its lifetime in seconds."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    if (role == "merchant") != (merchant_id is not None):
        raise ValueError("a merchant token needs mid, and only a merchant token has one")
    if cashier_id is not None and merchant_id is None:
        raise ValueError("only a merchant token names a cashier")
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": sub,
        "role": role,
        "iat": now,
        "exp": now + settings.access_token_ttl_s,
        "jti": uuid.uuid4().hex,
    }
    if merchant_id is not None:
        claims["mid"] = merchant_id
    if cashier_id is not None:
        claims["cashier_id"] = cashier_id
    if pid is not None:
        claims["pid"] = pid
    token = jwt.encode(claims, settings.jwt_secret, algorithm="HS256")
    return token, settings.access_token_ttl_s


class TokenVerifier:
    """Verifies bearer tokens; one instance per app, keys parsed once.

    A token that verified is remembered until its `exp`: a resident's phone sends the same
    token with every request, and full verification costs more than the rest of a claim.
    """

    CACHE_SIZE = 50_000

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._verified: dict[str, tuple[Principal, float]] = {}
        # A decoder of our own whose HS256 checks the secret's format (not PEM, not SSH, not
        # DER: PyJWT's guard against key confusion) once, not on every token; the answer for
        # a given secret never changes. Everything else is PyJWT's own verification.
        self._decoder = jwt.PyJWT()
        jws = self._decoder._jws
        jws.unregister_algorithm("HS256")
        jws.register_algorithm("HS256", _CheckedOnceHMAC())
        # PyJWT's own key check (no PEM, SSH or DER public key as an HMAC secret), once.
        self._secret = _CheckedOnceHMAC().prepare_key(settings.jwt_secret)
        self.public_key: Any = None
        if settings.jwt_public_key:
            from cryptography.hazmat.primitives.serialization import load_pem_public_key

            self.public_key = load_pem_public_key(settings.jwt_public_key.encode())

    def verify(self, token: str) -> Principal:
        cached = self._verified.get(token)
        if cached is not None:
            principal, expires = cached
            if time.time() < expires:
                return principal
            del self._verified[token]
        principal, expires = self._verify(token)
        if len(self._verified) >= self.CACHE_SIZE:
            self._verified.clear()  # simple and bounded; a miss only costs a verification
        self._verified[token] = (principal, expires)
        return principal

    def _verify(self, token: str) -> tuple[Principal, float]:
        header = _header(token)
        alg = header.get("alg")
        if alg == "HS256":
            claims = self._hs256_claims(token, header)
        elif alg in _ASYMMETRIC and self.public_key is not None:
            try:
                claims = self._decoder.decode(
                    token,
                    self.public_key,
                    algorithms=list(_ASYMMETRIC),
                    audience=self.settings.jwt_audience,
                    issuer=self.settings.jwt_issuer,
                    # aud may be a string or an array holding ours (RFC 7519 §4.1.3).
                    options={"require": _REQUIRED},
                    leeway=LEEWAY_S,
                )
            except jwt.ExpiredSignatureError:
                raise _unauthorized("token expired") from None
            except jwt.PyJWTError:
                raise _unauthorized("token not valid") from None
        else:
            raise _unauthorized("token algorithm not accepted")
        # RFC 7519 makes these NumericDates; PyJWT would take "9999999999" as a number.
        for name in ("exp", "iat", "nbf"):
            if name in claims and not _is_number(claims[name]):
                raise _unauthorized(f"token claim {name} is not a number")
        role, sub, mid = claims.get("role"), claims.get("sub"), claims.get("mid")
        if role not in ROLES or not _is_subject(sub):
            raise _unauthorized("token claims not valid")
        # The identity platform's key may sign resident tokens only.
        if role != "resident" and alg != "HS256":
            raise _unauthorized("token not valid")
        if role == "merchant":
            if not _is_id(mid):
                raise _unauthorized("merchant token without a valid mid")
        else:
            mid = None
        # A cashier's token: a merchant token naming one of its cashiers by id (whether that
        # cashier is the merchant's and not removed is checked on each request).
        cashier_id = claims.get("cashier_id")
        if "cashier_id" in claims and (role != "merchant" or not _is_id(cashier_id)):
            raise _unauthorized("token claim cashier_id not valid")
        pid = claims.get("pid")
        if pid is not None and (role != "resident" or not _is_subject(pid)):
            raise _unauthorized("token claim pid not valid")
        principal = Principal(
            role=role,
            sub=sub,
            merchant_id=mid,
            jti=claims.get("jti"),
            pid=pid,
            cashier_id=cashier_id,
        )
        # Remembered only until exp (PyJWT's leeway is not extended to the cache).
        return principal, float(claims["exp"])

    def _hs256_claims(self, token: str, header: dict[str, Any]) -> dict[str, Any]:
        """An HS256 token's claims (`header`: its header, already read), verified here as
        PyJWT would (a test holds the two to the same answers) at less than half its cost: 12 µs
        a token against 28 µs, and the issuing crowd brings a new token with every request.
        The header names HS256 and no critical extension; the signature is HMAC-SHA256 of the
        first two segments under the secret, compared in constant time; `exp`, `iat`, `iss`,
        `aud` and `sub` are required; `exp` has passed (30 s leeway) → expired; `iat` and `nbf`
        in the future → not valid; `iss` is ours; `aud` is ours or an array of strings holding
        ours."""
        parts = token.split(".")
        if len(parts) != 3:
            raise _unauthorized("token not valid")
        head, body, signature = parts
        if (
            header.get("alg") != "HS256"
            or "crit" in header
            or not isinstance(header.get("kid", ""), str)
        ):
            raise _unauthorized("token not valid")
        signed = hmac.digest(self._secret, f"{head}.{body}".encode("ascii"), "sha256")
        if not hmac.compare_digest(signed, _segment(signature)):
            raise _unauthorized("token not valid")
        claims = _json_segment(body)
        if any(name not in claims for name in _REQUIRED):
            raise _unauthorized("token not valid")
        now = time.time()
        for name in ("exp", "iat", "nbf"):
            if name in claims and not _is_number(claims[name]):
                raise _unauthorized(f"token claim {name} is not a number")
        if claims["exp"] <= now - LEEWAY_S:
            raise _unauthorized("token expired")
        if claims["iat"] > now + LEEWAY_S or claims.get("nbf", 0) > now + LEEWAY_S:
            raise _unauthorized("token not valid")
        if claims["iss"] != self.settings.jwt_issuer:
            raise _unauthorized("token not valid")
        audience = claims["aud"]
        if isinstance(audience, str):
            audience = [audience]
        if (
            not isinstance(audience, list)
            or not all(isinstance(a, str) for a in audience)
            or self.settings.jwt_audience not in audience
        ):
            raise _unauthorized("token not valid")
        return claims


def _segment(text: str) -> bytes:
    """A base64url segment as PyJWT reads it (padding optional, nothing outside the alphabet)."""
    if _BASE64URL.fullmatch(text) is None:
        raise _unauthorized("token not valid")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        raise _unauthorized("token not valid") from None


def _json_segment(text: str) -> dict[str, Any]:
    try:
        value = json.loads(_segment(text))
    except (ValueError, UnicodeDecodeError):
        raise _unauthorized("token not valid") from None
    if not isinstance(value, dict):
        raise _unauthorized("token not valid")
    return value


def _is_number(value: object) -> bool:
    # Bounded: float(10**400) raises, and no real date is 2**53 seconds away.
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and abs(value) < 2**53
    )


def _is_id(value: object) -> TypeGuard[int]:
    """A row id in a claim: a JSON integer (not a bool, not a float) that fits a bigint."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID


def _is_subject(sub: object) -> TypeGuard[str]:
    """A subject the service can store and log: 1-200 characters, no control characters or
    lone surrogates (a NUL would fail inside PostgreSQL, with every claim combined with it)."""
    return isinstance(sub, str) and 0 < len(sub) <= 200 and text_problem(sub) is None


class _CheckedOnceHMAC(HMACAlgorithm):
    """HMAC-SHA256 whose key preparation (and PyJWT's checks in it) runs once per secret."""

    def __init__(self) -> None:
        super().__init__(HMACAlgorithm.SHA256)
        self._prepared: dict[bytes, bytes] = {}

    def prepare_key(self, key: str | bytes) -> bytes:
        raw = key.encode() if isinstance(key, str) else key
        prepared = self._prepared.get(raw)
        if prepared is None:
            prepared = super().prepare_key(key)  # raises for a key of the wrong kind
            if len(self._prepared) < 8:
                self._prepared[raw] = prepared
        return prepared


def _header(token: str) -> dict[str, Any]:
    """The token's header, read once: its `alg` picks the key family, and that family's code
    (ours for HS256, PyJWT's otherwise) verifies header, signature and claims in full.
    Every token we issue has the same header segment, so each distinct segment is parsed
    once (a segment that does not parse is not remembered, and raises every time).
    Callers only read the dict."""
    segment = token.split(".", 1)[0]
    header = _headers_read.get(segment)
    if header is None:
        header = _json_segment(segment)
        if len(_headers_read) >= _HEADERS_REMEMBERED:
            _headers_read.clear()  # bounded: a stranger's made-up headers cost a parse each
        _headers_read[segment] = header
    return header


_HEADERS_REMEMBERED = 64
_headers_read: dict[str, dict[str, Any]] = {}


def _unauthorized(message: str) -> DomainError:
    return DomainError(ErrorCode.UNAUTHORIZED, message)


def hash_password(password: str) -> str:
    return _password_hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _password_hasher.verify(password_hash or _DUMMY_HASH, password) and (
            password_hash is not None
        )
    except (VerificationError, InvalidHashError):
        return False


def new_api_key() -> str:
    return "mk_" + secrets.token_urlsafe(32)


def hash_api_key(api_key: str) -> bytes:
    # Api keys carry 256 random bits, so a fast hash is as good as a slow one here.
    return hashlib.sha256(api_key.encode()).digest()


def api_key_matches(stored_hash: bytes | None, api_key: str) -> bool:
    candidate = hash_api_key(api_key)
    return hmac.compare_digest(stored_hash or b"\0" * 32, candidate) and stored_hash is not None
