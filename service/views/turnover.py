"""Turnover days and recovery rows as the API writes them."""

from __future__ import annotations

from typing import Any

from service.timefmt import iso


def turnover_json(row: Any, tz: Any) -> dict[str, Any]:
    return {
        "date": row["date"].isoformat(),
        "credit_code": row["credit_code"],
        "category": row["category"],
        "sales_fen": row["sales_fen"],
        "transactions": row["transactions"],
        "source": row["source"],
        "recorded_at": iso(row["recorded_at"], tz),
    }


def recovery_json(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "date": None if row["date"] is None else row["date"].isoformat()}
