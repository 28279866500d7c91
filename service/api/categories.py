from __future__ import annotations

from aiohttp import web

from service.http import PUBLIC, Call, Routes, json_response
from service.schemas.common import CategoryItem

routes = Routes("categories")


@routes.get(
    "/categories",
    roles=PUBLIC,
    summary="The four festival categories",
    response=CategoryItem(many=True),
)
async def list_categories(call: Call) -> web.StreamResponse:
    rows = await call.db.fetch("list_categories")
    return json_response([dict(r) for r in rows])
