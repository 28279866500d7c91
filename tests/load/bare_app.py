"""The limit: a bare aiohttp app on the same event loop (uvloop) returning a small JSON body."""

from __future__ import annotations

import sys

import uvloop
from aiohttp import web


async def hello(request: web.Request) -> web.Response:
    return web.json_response({"ok": True, "service": "limit"})


def run(app: web.Application, port: int) -> None:
    """How the benchmark runs a reference app: uvloop, no access log, quiet (as the service)."""
    web.run_app(
        app, host="127.0.0.1", port=port, access_log=None, loop=uvloop.new_event_loop(), print=None
    )


if __name__ == "__main__":
    app = web.Application()
    app.router.add_get("/", hello)
    app.router.add_post("/", hello)
    run(app, int(sys.argv[1]))
