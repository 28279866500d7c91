"""A voucher as the cashier sees it before redeeming. (A redemption's own shape is
service.answers.redemption_json: the domain stores it as the checkout's answer.)"""

from __future__ import annotations

from typing import Any

import asyncpg

from service.errors import REFUSALS, ErrorCode
from service.timefmt import iso


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
