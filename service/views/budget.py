"""A category's budget line."""

from __future__ import annotations

from typing import Any


def budget_line(row: Any) -> dict[str, Any]:
    budget = row["budget_fen"]
    return {
        "category": row["category"],
        "budget_fen": budget,
        "committed_fen": row["committed_fen"],
        "spent_fen": row["spent_fen"],
        "available_fen": None
        if budget is None
        else budget - row["committed_fen"] - row["spent_fen"],
    }
