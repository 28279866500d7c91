"""Phone numbers are personal information (PIPL): masked in answers, peppered hashes at rest
(to find an account by its phone), and encrypted at rest where the service must text them.
Bank account numbers are masked the same way everywhere but the bank file."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


def mask_phone(phone: str) -> str:
    """138****5678: the first three and last four digits stay, the middle is starred."""
    digits = phone.replace("-", "")
    if len(digits) <= 7:
        return "*" * len(digits)
    return digits[:3] + "****" + digits[-4:]


def mask_account(account_no: str | None) -> str | None:
    """**** **** 1234: only the last four digits, as a bank statement shows them."""
    return None if account_no is None else "**** **** " + account_no[-4:]


def phone_hash(pepper: bytes, phone: str) -> bytes:
    return hmac.new(pepper, phone.encode(), hashlib.sha256).digest()


class PhoneKeyError(Exception):
    """A stored phone that this key cannot open: another FESTIVAL_PHONE_KEY wrote it, or the
    bytes (or the row they were bound to) are not the ones sealed."""


class PhoneCipher:
    """Phones at rest (PIPL): AES-256-GCM with a random 96-bit nonce per value, and
    associated data naming the row and purpose the ciphertext belongs to, so a ciphertext
    copied to another row or column does not open. Stored as version byte, nonce, ciphertext
    and tag. Opened only to send an SMS; neither the phone nor the key is ever logged."""

    VERSION = b"\x01"
    NONCE_BYTES = 12

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("the phone key is 32 bytes (AES-256)")
        self._aead = AESGCM(key)

    def __repr__(self) -> str:
        return "PhoneCipher(<key hidden>)"

    def seal(self, phone: str, *, bound_to: str) -> bytes:
        nonce = secrets.token_bytes(self.NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, phone.encode(), bound_to.encode())
        return self.VERSION + nonce + sealed

    def open(self, blob: bytes, *, bound_to: str) -> str:
        blob = bytes(blob)
        if blob[:1] != self.VERSION or len(blob) < 1 + self.NONCE_BYTES + 16:
            raise PhoneKeyError("not a sealed phone of this version")
        nonce, sealed = blob[1 : 1 + self.NONCE_BYTES], blob[1 + self.NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, sealed, bound_to.encode()).decode()
        except InvalidTag:
            raise PhoneKeyError("the phone does not open with this key and row") from None


def resident_phone_binding(resident_id: int) -> str:
    """The associated data of a resident's phone: its row and purpose."""
    return f"festival/residents/{resident_id}/phone"


def message_phone_binding(dedupe_key: str) -> str:
    """The associated data of a message's own recipient phone (an applicant's)."""
    return f"festival/messages/{dedupe_key}/phone"
