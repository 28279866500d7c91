"""A settlement line as the bureau and the merchant see it."""

from __future__ import annotations

from datetime import date
from typing import Any

import asyncpg

from service.timefmt import iso


def settlement_row(row: asyncpg.Record, tz: Any) -> dict[str, Any]:
    return {
        "merchant_id": row["merchant_id"],
        "merchant_name": row["merchant_name"],
        "date": row["date"].isoformat() if isinstance(row["date"], date) else row["date"],
        "redemptions": row["redemptions"],
        "subsidy_fen": row["subsidy_fen"],
        "adjustments_fen": row["adjustments_fen"],
        "net_fen": row["subsidy_fen"] + row["adjustments_fen"],
        "status": row["status"],
        "settled_at": iso(row["settled_at"], tz),
    }
