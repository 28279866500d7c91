"""The front ends (residents `/`, merchants' application `/join`, cashier `/cashier`, bureau
`/bureau` and its money-safety page `/bureau/money`): static pages on
the public API only. Their libraries come from npm packages installed by the Makefile
(`npm ci`), served from node_modules, so the pages load nothing from the internet."""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
from dataclasses import dataclass
from email.utils import formatdate
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


@dataclass(frozen=True)
class _File:
    """A file as served: its bytes, gzipped once (text only), and its validators."""

    stamp: tuple[int, int]  # mtime_ns and size: an edited file is read again
    body: bytes
    gzipped: bytes | None
    etag: str
    last_modified: str
    content_type: str


_FILES: dict[Path, _File] = {}
_COMPRESSIBLE = ("text/", "application/javascript", "application/json", "image/svg+xml")


def _load(path: Path) -> _File | None:
    try:
        st = path.stat()
    except OSError:
        return None
    stamp = (st.st_mtime_ns, st.st_size)
    known = _FILES.get(path)
    if known is not None and known.stamp == stamp:
        return known
    body = path.read_bytes()
    content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if path.suffix == ".js":
        content_type = "text/javascript"
    squeezed = gzip.compress(body, 9, mtime=0) if content_type.startswith(_COMPRESSIBLE) else None
    loaded = _File(
        stamp=stamp,
        body=body,
        gzipped=squeezed if squeezed is not None and len(squeezed) < len(body) else None,
        etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"',
        last_modified=formatdate(st.st_mtime, usegmt=True),
        content_type=content_type,
    )
    _FILES[path] = loaded
    return loaded


def serve_file(request: web.Request, path: Path, cache_control: str) -> web.Response:
    """A page or a static file, gzipped when the browser takes it (the bureau's sign-in page
    was 760 KiB uncompressed), with ETag/Last-Modified so a revisit is a 304; HEAD answers
    the same headers without the body (uptime monitors send HEAD)."""
    found = _load(path)
    if found is None:
        raise web.HTTPNotFound()
    use_gzip = (
        found.gzipped is not None and "gzip" in request.headers.get("Accept-Encoding", "").lower()
    )
    # The gzipped bytes are another representation: another (strong) validator.
    etag = found.etag[:-1] + '-gz"' if use_gzip else found.etag
    headers = {
        "Cache-Control": cache_control,
        "ETag": etag,
        "Last-Modified": found.last_modified,
        "Vary": "Accept-Encoding",
    }
    if etag in {t.strip() for t in request.headers.get("If-None-Match", "").split(",")}:
        return web.Response(status=304, headers=headers)
    if use_gzip:
        headers["Content-Encoding"] = "gzip"
    body = found.gzipped if use_gzip and found.gzipped is not None else found.body
    charset = "utf-8" if found.content_type.startswith(("text/", "application/j")) else None
    return web.Response(
        body=body, headers=headers, content_type=found.content_type, charset=charset
    )


def _page(name: str, call: Call) -> web.StreamResponse:
    # Security headers (CSP, nosniff, no framing) come from the middleware, for every file.
    return serve_file(call.request, WEB / name, "no-cache")


@routes.get("/", summary="Residents' page", extra={"hidden": True})
async def resident_page(call: Call) -> web.StreamResponse:
    return _page("index.html", call)


@routes.get("/join", summary="Merchants' application page (商户报名)", extra={"hidden": True})
async def join_page(call: Call) -> web.StreamResponse:
    return _page("join.html", call)


@routes.get("/cashier", summary="Cashier page", extra={"hidden": True})
async def cashier_page(call: Call) -> web.StreamResponse:
    return _page("cashier.html", call)


@routes.get("/draw", summary="A lottery's public draw record, for people", extra={"hidden": True})
async def draw_page(call: Call) -> web.StreamResponse:
    return _page("draw.html", call)


@routes.get("/bureau", summary="Bureau dashboard", extra={"hidden": True})
async def bureau_page(call: Call) -> web.StreamResponse:
    return _page("bureau.html", call)


@routes.get("/bureau/money", summary="Bureau: risk, holds, payments, audit", extra={"hidden": True})
async def money_page(call: Call) -> web.StreamResponse:
    return _page("money.html", call)


@routes.get("/bureau/bulletin", summary="Bureau: the daily bulletin", extra={"hidden": True})
async def bulletin_page(call: Call) -> web.StreamResponse:
    return _page("bulletin.html", call)


@routes.get("/favicon.ico", summary="The pages' icon", extra={"hidden": True})
async def favicon(call: Call) -> web.StreamResponse:
    return web.FileResponse(
        WEB / "favicon.ico",
        headers={"Content-Type": "image/x-icon", "Cache-Control": "public, max-age=86400"},
    )


@routes.get("/static/vendor/{name}", summary="Browser libraries", extra={"hidden": True})
async def vendor_file(call: Call) -> web.StreamResponse:
    path = VENDOR.get(call.request.match_info["name"])
    if path is None:
        raise web.HTTPNotFound()
    return serve_file(call.request, path, "public, max-age=86400")


async def _static(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    # One directory, no subfolders: a name is a plain file name or nothing.
    if "/" in name or "\\" in name or name.startswith(".") or not (WEB / name).is_file():
        raise web.HTTPNotFound()
    return serve_file(request, WEB / name, "no-cache")


def add_static(app: web.Application) -> None:
    # GET and HEAD (add_get's allow_head), compressed as the pages are.
    app.router.add_get("/static/{name}", _static)
