"""Phone numbers are personal information (PIPL): masked in answers, peppered hashes at rest.
Bank account numbers are masked the same way everywhere but the bank file."""

from __future__ import annotations

import hashlib
import hmac


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
