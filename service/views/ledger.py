"""Ledger rows as the API shows them: times in the festival's zone, days as YYYY-MM-DD."""

from __future__ import annotations

from typing import Any

import asyncpg

from service.timefmt import iso


def transfer_json(row: asyncpg.Record, tz: Any) -> dict[str, Any]:
    out = dict(row)
    out["at"] = iso(row["at"], tz)
    out["business_day"] = row["business_day"].isoformat()
    return out


def statement_json(row: asyncpg.Record) -> dict[str, Any]:
    out = dict(row)
    out["date"] = row["date"].isoformat()
    out["references"] = " ".join(row["references"])
    return out


def export_json(export: dict[str, Any], tz: Any) -> dict[str, Any]:
    return {**export, "created_at": iso(export["created_at"], tz)}
