"""Audit entries as the bureau reads them."""

from __future__ import annotations

import json
from typing import Any

from service.timefmt import iso


def audit_json(entry: dict[str, Any], tz: Any, *, flat: bool = False) -> dict[str, Any]:
    """`flat`: before and after as JSON text (one CSV cell each)."""
    out = {**entry, "at": iso(entry["at"], tz)}
    if flat:
        for key in ("before", "after"):
            out[key] = (
                None
                if out[key] is None
                else json.dumps(out[key], ensure_ascii=False, separators=(",", ":"))
            )
    return out
