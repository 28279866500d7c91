"""The front ends (residents `/`, merchants' application `/join`, cashier `/cashier`, bureau
`/bureau` and its money-safety page `/bureau/money`): static pages on
the public API only. Their libraries come from npm packages installed by the Makefile
(`npm ci`), served from node_modules, so the pages load nothing from the internet."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from service.http import PUBLIC, Call, Routes

routes = Routes("pages", roles=PUBLIC, prefix="")
WEB = Path(__file__).resolve().parent.parent / "web"
NODE_MODULES = Path(__file__).resolve().parent.parent.parent / "node_modules"
VENDOR = {
    "echarts.min.js": NODE_MODULES / "echarts" / "dist" / "echarts.min.js",
    "jsQR.js": NODE_MODULES / "jsqr" / "dist" / "jsQR.js",
}


def _page(name: str) -> web.FileResponse:
    # Security headers (CSP, nosniff, no framing) come from the middleware, for every file.
    return web.FileResponse(WEB / name, headers={"Cache-Control": "no-cache"})


@routes.get("/", summary="Residents' page", extra={"hidden": True})
async def resident_page(call: Call) -> web.StreamResponse:
    return _page("index.html")


@routes.get("/join", summary="Merchants' application page (商户报名)", extra={"hidden": True})
async def join_page(call: Call) -> web.StreamResponse:
    return _page("join.html")


@routes.get("/cashier", summary="Cashier page", extra={"hidden": True})
async def cashier_page(call: Call) -> web.StreamResponse:
    return _page("cashier.html")


@routes.get("/draw", summary="A lottery's public draw record, for people", extra={"hidden": True})
async def draw_page(call: Call) -> web.StreamResponse:
    return _page("draw.html")


@routes.get("/bureau", summary="Bureau dashboard", extra={"hidden": True})
async def bureau_page(call: Call) -> web.StreamResponse:
    return _page("bureau.html")


@routes.get("/bureau/money", summary="Bureau: risk, holds, payments, audit", extra={"hidden": True})
async def money_page(call: Call) -> web.StreamResponse:
    return _page("money.html")


@routes.get("/bureau/bulletin", summary="Bureau: the daily bulletin", extra={"hidden": True})
async def bulletin_page(call: Call) -> web.StreamResponse:
    return _page("bulletin.html")


@routes.get("/favicon.ico", summary="The pages' icon", extra={"hidden": True})
async def favicon(call: Call) -> web.StreamResponse:
    return web.FileResponse(
        WEB / "favicon.ico",
        headers={"Content-Type": "image/x-icon", "Cache-Control": "public, max-age=86400"},
    )


@routes.get("/static/vendor/{name}", summary="Browser libraries", extra={"hidden": True})
async def vendor_file(call: Call) -> web.StreamResponse:
    path = VENDOR.get(call.request.match_info["name"])
    if path is None or not path.exists():
        raise web.HTTPNotFound()
    return web.FileResponse(path, headers={"Cache-Control": "public, max-age=86400"})


def add_static(app: web.Application) -> None:
    app.router.add_static("/static", WEB)
