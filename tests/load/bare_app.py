"""The limit: a bare aiohttp app on the same event loop (uvloop) returning a small JSON body."""

from __future__ import annotations

import sys

import uvloop
from aiohttp import web


async def hello(request: web.Request) -> web.Response:
    return web.json_response({"ok": True, "service": "limit"})


if __name__ == "__main__":
    app = web.Application()
    app.router.add_get("/", hello)
    app.router.add_post("/", hello)
    web.run_app(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        access_log=None,
        loop=uvloop.new_event_loop(),
        print=None,
    )
