"""The festival's four categories, as the database lists them."""

from __future__ import annotations

from typing import Any

from service.db import Database


async def list_categories(db: Database) -> list[dict[str, Any]]:
    return [dict(r) for r in await db.fetch("list_categories")]
