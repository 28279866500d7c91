"""The bureau's published numbers as the stats tests read them."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api

DAILY = "/api/v1/stats/daily"


async def get(api: Api, path: str, **kw: Any) -> Any:
    _, body = await api.call("GET", path, headers=kw.pop("headers", api.bureau), expect=200, **kw)
    return body


async def daily(api: Api, query: str = "?from=2020-05-06&to=2020-05-06") -> dict[str, Any]:
    """The daily rows, by category (all of them from one day)."""
    items = (await get(api, DAILY + query))["items"]
    by_category = {row["category"]: row for row in items}
    assert len(by_category) == len(items), items
    return by_category
