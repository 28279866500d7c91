"""Voucher codes and the signed QR string a merchant scans.

A code is 13 random characters from a 31-letter alphabet with no look-alikes (no 0/O, 1/I/L),
64.4 bits of randomness, plus one check character that catches any single mistyped character
and any swap of two neighbours, so a typo is refused before any lookup. Cashiers may type it in
any case, with spaces or dashes.

The QR string is `HYV1.<code>.<signature>`, the signature an HMAC of the code under a server key
kept in the database: a forged or damaged QR fails verification before any lookup.
"""

from __future__ import annotations

import base64
import hmac
import secrets

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
RANDOM_LENGTH = 13
CODE_LENGTH = RANDOM_LENGTH + 1
QR_PREFIX = "HYV1"
_INDEX = {ch: i for i, ch in enumerate(ALPHABET)}
_SIGNATURE_BYTES = 12


def _check_character(body: str) -> str:
    # Position weights 1..13 are distinct and non-zero mod 31 (a prime): every single
    # substitution and every adjacent transposition changes the sum.
    total = sum((i + 1) * _INDEX[ch] for i, ch in enumerate(body))
    return ALPHABET[total % len(ALPHABET)]


_BASE = len(ALPHABET)
_SPACE = _BASE**RANDOM_LENGTH


def new_code() -> str:
    # One uniform draw over all 31^13 bodies (secrets.randbelow rejects, never biases).
    n = secrets.randbelow(_SPACE)
    chars = []
    for _ in range(RANDOM_LENGTH):
        n, digit = divmod(n, _BASE)
        chars.append(ALPHABET[digit])
    body = "".join(chars)
    return body + _check_character(body)


def normalize(typed: str) -> str | None:
    """The canonical code for what a cashier typed, or None when it cannot be a code."""
    if not typed.isascii():  # "ﬀ".upper() is "FF": only what a keyboard types counts
        return None
    code = typed.replace("-", "").replace(" ", "").upper()
    if len(code) != CODE_LENGTH or any(ch not in _INDEX for ch in code):
        return None
    if _check_character(code[:-1]) != code[-1]:
        return None
    return code


def _signature(key: bytes, code: str) -> str:
    digest = hmac.digest(key, f"{QR_PREFIX}.{code}".encode(), "sha256")  # one-shot: cheaper
    return base64.urlsafe_b64encode(digest[:_SIGNATURE_BYTES]).decode().rstrip("=")


def qr_string(key: bytes, code: str) -> str:
    return f"{QR_PREFIX}.{code}.{_signature(key, code)}"


def code_from_input(key: bytes, value: str) -> str | None:
    """A typed code or a scanned QR string → the canonical code, or None if forged or mistyped."""
    value = value.strip()
    if value.startswith(QR_PREFIX + "."):
        parts = value.split(".")
        if len(parts) != 3:
            return None
        code = normalize(parts[1])
        if code is None or code != parts[1]:
            return None
        # Bytes: compare_digest raises TypeError on a str that is not ASCII.
        signature = parts[2].encode("utf-8", "surrogatepass")
        if not hmac.compare_digest(_signature(key, code).encode(), signature):
            return None
        return code
    return normalize(value)


# Several vouchers in one checkout (API.md): `HYC1.<expiry>.<code>-<code>-….<signature>`, the
# expiry in Unix seconds and the signature an HMAC of everything before it under the same
# server key (its own prefix keeps it apart from a voucher's). Upper-case letters, digits, `.`
# and `-` only, so the QR code is drawn in its denser alphanumeric mode.
CHECKOUT_QR_PREFIX = "HYC1"
_CHECKOUT_SIGNATURE_BYTES = 15  # 120 bits, 24 base32 characters without padding


def _checkout_signature(key: bytes, signed: str) -> str:
    digest = hmac.digest(key, signed.encode(), "sha256")
    return base64.b32encode(digest[:_CHECKOUT_SIGNATURE_BYTES]).decode()


def checkout_qr_string(key: bytes, codes: list[str], *, expires_at: int) -> str:
    """The signed QR string of these codes (canonical), valid until `expires_at` (Unix s)."""
    signed = f"{CHECKOUT_QR_PREFIX}.{expires_at}.{'-'.join(codes)}"
    return f"{signed}.{_checkout_signature(key, signed)}"


def is_checkout_qr(value: str) -> bool:
    return value.strip().startswith(CHECKOUT_QR_PREFIX + ".")


def checkout_from_qr(key: bytes, value: str) -> tuple[list[str], int] | None:
    """A scanned checkout QR string → its codes and its expiry (Unix s), or None if forged,
    damaged or not one. Whether it has expired is the caller's question."""
    parts = value.strip().split(".")
    if len(parts) != 4 or parts[0] != CHECKOUT_QR_PREFIX:
        return None
    _, expiry, joined, signature = parts
    if not (expiry.isascii() and expiry.isdigit() and 0 < len(expiry) <= 12):
        return None
    # Bytes: compare_digest raises TypeError on a str that is not ASCII.
    expected = _checkout_signature(key, f"{CHECKOUT_QR_PREFIX}.{expiry}.{joined}").encode()
    if not hmac.compare_digest(expected, signature.encode("utf-8", "surrogatepass")):
        return None
    codes = joined.split("-")
    if any(normalize(code) != code for code in codes):
        return None  # we never sign such a list
    return codes, int(expiry)
