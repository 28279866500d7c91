"""A person's suspension, as the bureau sees it."""

from __future__ import annotations

from typing import Any

from service.schemas.dump import Computed


def suspension(person: str, row: Any) -> Computed:
    """`row` is the suspension, or None when the person is not suspended (its fields null)."""
    return Computed({} if row is None else row, person=person, suspended=row is not None)
