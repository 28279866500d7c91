"""The festival's vocabulary and limits, shared by every layer (schemas, domain, auth): the
categories, money in fen, ids, the dates the service accepts, and which text may be stored.
Standard library only: it sits below everything that imports it."""

from __future__ import annotations

import re
from datetime import date

CATEGORIES = ("shopping", "dining", "culture_tourism", "auto")
# Ten million yuan: far above any festival order, far below int32 overflow in sums per row.
MAX_FEN = 1_000_000_000
# A row id: PostgreSQL's bigint.
MAX_ID = 2**63 - 1
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2099, 12, 31)
MAX_RANGE_DAYS = 366

# C0 and C1 control characters, DEL, and UTF-16 surrogates (a lone one cannot be encoded as
# UTF-8; PostgreSQL text cannot hold NUL). Free text may keep tab and newline.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_CONTROL_FREE_TEXT = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
# Invisible format characters that make text read otherwise than it is stored (bidi
# overrides and isolates, zero-width spaces and marks: "Trojan Source", CVE-2021-42574).
_INVISIBLE = re.compile(r"[\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def text_problem(value: str, *, free_text: bool = False) -> str | None:
    """Why `value` may not be stored or echoed as text, or None when it may."""
    pattern = _CONTROL_FREE_TEXT if free_text else _CONTROL
    found = pattern.search(value)
    if found is not None:
        return (
            f"Control characters and unpaired surrogates are not allowed (U+{ord(found[0]):04X})."
        )
    hidden = _INVISIBLE.search(value)
    if hidden is not None:
        return f"Invisible format characters are not allowed (U+{ord(hidden[0]):04X})."
    return None


def printable(value: str) -> str:
    """`value` safe to echo in an error or a log line: controls and surrogates escaped."""
    return _CONTROL.sub(lambda m: f"\\u{ord(m[0]):04x}", value)
