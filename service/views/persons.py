"""A person's suspension, as the bureau sees it."""

from __future__ import annotations

from typing import Any

from service.timefmt import iso


def suspension_json(person: str, row: Any, tz: Any) -> dict[str, Any]:
    """`row` is the suspension, or None when the person is not suspended."""
    return {
        "person": person,
        "suspended": row is not None,
        "reason": row["reason"] if row is not None else None,
        "suspended_at": iso(row["suspended_at"], tz) if row is not None else None,
        "suspended_by": row["suspended_by"] if row is not None else None,
    }
