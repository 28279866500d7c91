"""A merchant as the bureau sees it: the contact phone masked."""

from __future__ import annotations

from typing import Any

import asyncpg

from service.domain.phones import mask_account, mask_phone
from service.timefmt import iso


def merchant_json(row: asyncpg.Record, tz: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "category": row["category"],
        "credit_code": row["credit_code"],
        "district": row["district"],
        "address": row["address"],
        "contact_phone": mask_phone(row["contact_phone"]),
        "status": row["status"],
        "daily_subsidy_cap_fen": row["daily_subsidy_cap_fen"],
        "account_name": row["account_name"],
        "account_no": mask_account(row["account_no"]),
        "created_at": iso(row["created_at"], tz),
        "updated_at": iso(row["updated_at"], tz),
    }
