"""How a voucher is shown to its resident: status as of now, and the signed QR string."""

from __future__ import annotations

from typing import Any

import asyncpg

from service.domain.codes import qr_string
from service.timefmt import iso


def voucher_json(row: asyncpg.Record | dict[str, Any], qr_key: bytes, tz: Any) -> dict[str, Any]:
    return {
        "code": row["code"],
        "batch_id": row["batch_id"],
        "category": row["category"],
        "title": row["title"],
        "face_value_fen": row["face_value_fen"],
        "min_spend_fen": row["min_spend_fen"],
        "status": row["status"],
        "claimed_at": iso(row["claimed_at"], tz),
        "expires_at": iso(row["expires_at"], tz),
        "redeemed_at": iso(row["redeemed_at"], tz),
        "qr": qr_string(qr_key, row["code"]),
    }
