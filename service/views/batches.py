"""A batch as the API shows it."""

from __future__ import annotations

from typing import Any

import asyncpg

from service.timefmt import iso


def batch_json(row: asyncpg.Record, tz: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "category": row["category"],
        "title": row["title"],
        "face_value_fen": row["face_value_fen"],
        "min_spend_fen": row["min_spend_fen"],
        "quantity": row["quantity"],
        "remaining": row["remaining"],
        "per_resident_limit": row["per_resident_limit"],
        "claim_starts_at": iso(row["claim_starts_at"], tz),
        "claim_ends_at": iso(row["claim_ends_at"], tz),
        "valid_days": row["valid_days"],
        "valid_until": iso(row["valid_until"], tz),
        "status": row["status"],
        "paused": row["paused"],
        "merchant_ids": list(row["merchant_ids"]),
        "mode": row["mode"],
        "draw_at": iso(row["draw_at"], tz),
        "seed_commitment": row["seed_commitment"],
        "drawn_at": iso(row["drawn_at"], tz),
    }
