"""A checkout's answer as the domain stores it for replay (idempotency keys) and the API
sends it: byte for byte the same text. Below both: the domain writes a redemption's answer
in the transaction that redeems, the views render a stored redemption the same way."""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from service.timefmt import iso


def as_text(body: Any) -> str:
    """A JSON answer as stored for replay (idempotency keys) and sent: compact, UTF-8 as is."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def redemption_json(row: asyncpg.Record | dict[str, Any], tz: Any) -> dict[str, Any]:
    """A redemption as the checkout sees it (and as its stored answer is written)."""
    return {
        "id": row["id"],
        "code": row["code"],
        "merchant_id": row["merchant_id"],
        "category": row["category"],
        "order_amount_fen": row["order_amount_fen"],
        "discount_fen": row["discount_fen"],
        "payable_fen": row["payable_fen"],
        "order_ref": row["order_ref"],
        "status": row["status"],
        "redeemed_at": iso(row["redeemed_at"], tz),
        "reversed_at": iso(row["reversed_at"], tz),
        "reversal_reason": row["reversal_reason"],
    }
