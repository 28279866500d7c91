"""Phone numbers are personal information (PIPL): masked in answers, peppered hashes at rest."""

from __future__ import annotations

import hashlib
import hmac


def mask_phone(phone: str) -> str:
    """138****5678: the first three and last four digits stay, the middle is starred."""
    digits = phone.replace("-", "")
    if len(digits) <= 7:
        return "*" * len(digits)
    return digits[:3] + "****" + digits[-4:]


def phone_hash(pepper: bytes, phone: str) -> bytes:
    return hmac.new(pepper, phone.encode(), hashlib.sha256).digest()
