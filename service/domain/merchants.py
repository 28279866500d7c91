"""Merchant administration: creation with a one-time api key, listing, suspension."""

from __future__ import annotations

from typing import Any

import asyncpg

from service.auth import hash_api_key, new_api_key
from service.db import Database
from service.domain.phones import mask_phone
from service.errors import not_found
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
        "created_at": iso(row["created_at"], tz),
        "updated_at": iso(row["updated_at"], tz),
    }


async def create_merchant(db: Database, data: dict[str, Any]) -> tuple[asyncpg.Record, str]:
    """The new merchant and its api key, which exists in clear only in this answer."""
    api_key = new_api_key()
    row = await db.fetchrow(
        "insert_merchant",
        data["name"].strip(),
        data["category"],
        data["credit_code"],
        data["district"].strip(),
        data["address"].strip(),
        data["contact_phone"],
        hash_api_key(api_key),
    )
    assert row is not None
    return row, api_key


async def get_merchant(db: Database, merchant_id: int) -> asyncpg.Record:
    row = await db.fetchrow("get_merchant", merchant_id)
    if row is None:
        raise not_found("merchant")
    return row


async def update_merchant(db: Database, merchant_id: int, data: dict[str, Any]) -> asyncpg.Record:
    row = await db.fetchrow(
        "update_merchant",
        merchant_id,
        data.get("status"),
        data.get("name"),
        data.get("district"),
        data.get("address"),
        data.get("contact_phone"),
    )
    if row is None:
        raise not_found("merchant")
    return row
