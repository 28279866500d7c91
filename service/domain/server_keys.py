"""The service's own secrets kept in the database (made by the first migration): the key that
signs QR strings and the pepper of phone hashes. Every process reads the same ones."""

from __future__ import annotations

from service.db import Database


async def load(db: Database) -> dict[str, bytes]:
    return {r["name"]: bytes(r["key"]) for r in await db.fetch("load_app_keys")}
