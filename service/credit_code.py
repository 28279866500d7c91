"""统一社会信用代码 (unified social credit code) check character, per GB 32100-2015."""

from __future__ import annotations

import random

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # 31 characters: no I, O, Z, S, V
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def check_character(first17: str) -> str:
    total = sum(ALPHABET.index(ch) * w for ch, w in zip(first17, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def credit_code_error(code: object) -> str | None:
    """Why `code` is not a valid credit code, or None when it is."""
    if not isinstance(code, str) or len(code) != 18:
        return "Must be 18 characters."
    bad = sorted({ch for ch in code if ch not in ALPHABET})
    if bad:
        return (
            f"Characters not allowed: {''.join(bad)} (digits and capitals without I, O, Z, S, V)."
        )
    if not code[2:8].isdigit():
        return "Characters 3–8 must be the digits of an administrative division code."
    if check_character(code[:17]) != code[17]:
        return "Check character does not match (GB 32100-2015)."
    return None


def with_check_character(first17: str) -> str:
    return first17 + check_character(first17)


def random_huaiyin_code(rng: random.Random) -> str:
    """A valid code of a Huaiyin (370104) business, for the demo and the tests."""
    return with_check_character("91370104MA" + "".join(rng.choice(ALPHABET) for _ in range(7)))
