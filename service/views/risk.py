"""Risk flags as the bureau reads them."""

from __future__ import annotations

from typing import Any

from service.timefmt import iso


def timeline_json(t: dict[str, Any], tz: Any) -> dict[str, Any]:
    return {
        **t,
        "date": t["date"].isoformat(),
        "days": [{**dict(d), "date": d["date"].isoformat()} for d in t["days"]],
        "windows": [
            {"at": iso(w["at"], tz), "redemptions": w["redemptions"]} for w in t["windows"]
        ],
    }


def flag_json(flag: dict[str, Any], tz: Any) -> dict[str, Any]:
    return {
        **flag,
        "date": flag["date"].isoformat(),
        "raised_at": iso(flag["raised_at"], tz),
        "reviewed_at": iso(flag["reviewed_at"], tz),
        "released_at": iso(flag["released_at"], tz),
    }
