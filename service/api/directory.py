"""Where to spend: the public merchant directory (no token; nothing personal in it)."""

from __future__ import annotations

from aiohttp import web

from service import keys
from service.domain import directory
from service.errors import ErrorCode
from service.http import PUBLIC, Call, Routes
from service.schemas.directory import Directory, DirectoryQuery

routes = Routes("where to spend", roles=PUBLIC)

# Public and the same for everyone: a browser or proxy may keep a page a minute (opening
# hours and suspensions show within it). Errors stay no-store (the middleware's default).
CACHE = {"Cache-Control": "public, max-age=60"}


@routes.get(
    "/merchants",
    summary="Active merchants: by distance from near, else by street and name; keyset pages",
    query=DirectoryQuery(),
    response=Directory(),
    errors=(ErrorCode.NOT_FOUND,),
)
async def merchant_directory(call: Call) -> web.StreamResponse:
    q = call.query
    minute = None
    if q.get("open_now") == "true":
        local = call.clock.now().astimezone(call.settings.tz)  # the drill's, in a drill
        minute = local.hour * 60 + local.minute
    filters = directory.Filters(
        category=q.get("category"),
        q=q.get("q"),
        street=q.get("street"),
        batch_id=q.get("batch_id"),
        minute=minute,
        near=q.get("near"),
    )
    page = await directory.search(
        call.db,
        filters,
        limit=q["limit"],
        cursor=q.get("cursor"),
        key=call.app[keys.SERVER_KEYS]["directory_cursor"],
    )
    return call.answer(page, headers=CACHE)
