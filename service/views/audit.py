"""Audit entries as the bureau reads them."""

from __future__ import annotations

from typing import Any

from service.timefmt import iso


def audit_json(entry: dict[str, Any], tz: Any) -> dict[str, Any]:
    return {**entry, "at": iso(entry["at"], tz)}
