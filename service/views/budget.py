"""A category's budget line: what is left of it is computed."""

from __future__ import annotations

from typing import Any

from service.schemas.dump import Computed


def budget_line(row: Any) -> Computed:
    budget = row["budget_fen"]
    available = None if budget is None else budget - row["committed_fen"] - row["spent_fen"]
    return Computed(row, available_fen=available)
