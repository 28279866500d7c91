"""A redemption as the checkout sees it (and as its stored answer is written)."""

from __future__ import annotations

from typing import Any

import asyncpg

from service.errors import REFUSALS, ErrorCode
from service.timefmt import iso


def redemption_json(row: asyncpg.Record | dict[str, Any], tz: Any) -> dict[str, Any]:
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


def preview_json(voucher: asyncpg.Record, reason: ErrorCode | None, tz: Any) -> dict[str, Any]:
    """What the cashier sees before redeeming: no resident identity, and why not if not."""
    body = {
        "code": voucher["code"],
        "category": voucher["category"],
        "face_value_fen": voucher["face_value_fen"],
        "min_spend_fen": voucher["min_spend_fen"],
        "status": voucher["status"],
        "expires_at": iso(voucher["expires_at"], tz),
        "redeemable": reason is None,
    }
    if reason is not None:
        body["reason"] = reason
        body["reason_message"] = REFUSALS[reason]
    return body
