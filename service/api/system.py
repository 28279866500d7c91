"""Service endpoints: liveness, readiness, metrics, the OpenAPI document and its docs page."""

from __future__ import annotations

import asyncio
import time

from aiohttp import web

from service import keys, migrations
from service.errors import ErrorCode
from service.http import PUBLIC, Call, Routes, json_response

routes = Routes("service", roles=PUBLIC, prefix="")

DOCS_HTML = """<!doctype html>
<html lang="zh-CN">
<head>
  <meta charset="utf-8">
  <title>春暖槐荫消费节 API</title>
  <link rel="stylesheet" href="/api/docs/static/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/api/docs/static/swagger-ui-bundle.js"></script>
  <script src="/api/docs/init.js"></script>
</body>
</html>
"""


# A file of its own, not an inline script: the docs page has the pages' CSP (script-src 'self').
DOCS_INIT_JS = """window.ui = SwaggerUIBundle({
  url: "/api/openapi.json", dom_id: "#swagger-ui", deepLinking: true,
});
"""


@routes.get("/healthz", summary="The process is up")
async def healthz(call: Call) -> web.StreamResponse:
    return json_response({"status": "ok"})


@routes.get(
    "/readyz",
    summary="The database answers and migrations are current",
    errors=(ErrorCode.UNAVAILABLE,),
)
async def readyz(call: Call) -> web.StreamResponse:
    pool = call.db.pool
    try:
        # Bounded like a request: a busy, exhausted or unreachable database is "not ready"
        # within a second or two, never a probe that hangs.
        async with asyncio.timeout(READY_TIMEOUT_S), call.db.connection() as conn:
            version = await migrations.current_version(conn.raw)
    except Exception:
        return json_response(
            {
                "status": "unavailable",
                "reason": "database unreachable, busy or out of connections",
                "pool": {"size": pool.get_size(), "idle": pool.get_idle_size()},
            },
            503,
            {"Retry-After": "5"},
        )
    since = time.monotonic() - call.app[keys.LIFECYCLE].unavailable_at
    if since < TROUBLE_WINDOW_S:
        return json_response(
            {
                "status": "unavailable",
                "reason": f"requests were answered 503 {since:.1f} s ago (database slow or away)",
                "pool": {"size": pool.get_size(), "idle": pool.get_idle_size()},
            },
            503,
            {"Retry-After": "5"},
        )
    latest = migrations.latest_version()
    if version != latest:
        return json_response(
            {
                "status": "unavailable",
                "reason": "migrations pending",
                "schema_version": version,
                "latest": latest,
            },
            503,
            {"Retry-After": "5"},
        )
    return json_response({"status": "ready", "schema_version": version})


@routes.get("/metrics", summary="Prometheus metrics (text format)")
async def metrics(call: Call) -> web.StreamResponse:
    m = call.app[keys.METRICS]
    m.db_pool_size.set(call.db.pool.get_size())
    return web.Response(body=m.render(), headers={"Content-Type": "text/plain; version=0.0.4"})


@routes.get("/api/openapi.json", summary="This document")
async def openapi(call: Call) -> web.StreamResponse:
    return json_response(call.app[OPENAPI])


@routes.get("/api/docs", summary="A page to read the OpenAPI document")
async def docs(call: Call) -> web.StreamResponse:
    return web.Response(text=DOCS_HTML, content_type="text/html")


@routes.get("/api/docs/init.js", summary="Starts the docs page", extra={"hidden": True})
async def docs_init(call: Call) -> web.StreamResponse:
    return web.Response(text=DOCS_INIT_JS, content_type="text/javascript")


READY_TIMEOUT_S = 1.5
# Not ready while requests are failing: this long after the last 503.
TROUBLE_WINDOW_S = 5.0
OPENAPI: web.AppKey[dict] = web.AppKey("openapi")
