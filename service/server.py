"""Serving the API: one process, or several sharing the port, drained on SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys

from service.processes import until_stopped
from service.settings import Settings

log = logging.getLogger("festival")

DRAIN_SECONDS = 2.0


def serve_forever(
    settings: Settings,
    host: str,
    port: int,
    *,
    scheduler: bool,
    banner: str | None = None,
    reuse_port: bool = False,
) -> None:
    try:
        import uvloop

        loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    except ImportError:  # pragma: no cover - uvloop is a dependency except on Windows
        loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(
            _serve_until_stopped(settings, host, port, scheduler, banner, reuse_port)
        )
    finally:
        loop.close()


async def _serve_until_stopped(
    settings: Settings,
    host: str,
    port: int,
    scheduler: bool,
    banner: str | None,
    reuse_port: bool,
) -> None:
    """Serve until SIGTERM or Ctrl-C, then drain: for a short while every answer carries
    `Connection: close`, so clients (nginx) stop reusing connections to this process; then stop
    listening and close what is left. Requests still queued in the kernel when the listener
    closes are reset: for a restart without a single error, take the process out of nginx's
    upstream first (deploy/README.md)."""
    from aiohttp import web

    from service import keys
    from service.app import create_app
    from service.middlewares import AccessLogger, quiet_malformed_requests

    quiet_malformed_requests()

    app = create_app(settings=settings, scheduler=scheduler)
    runner = web.AppRunner(
        app,
        access_log=logging.getLogger("festival.access") if settings.access_log else None,
        access_log_class=AccessLogger,
        handle_signals=False,
    )
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_port=reuse_port or None)
    await site.start()
    if banner:
        print(banner, flush=True)
    try:
        await until_stopped()
        app[keys.LIFECYCLE].draining = True
        await asyncio.sleep(DRAIN_SECONDS)
        await site.stop()
    finally:
        await runner.cleanup()


def serve(
    settings: Settings, host: str, port: int, workers: int, scheduler: bool, reuse_port: bool
) -> None:
    """`festival serve`: migrate, then this process serves (and schedules, unless told not
    to); `workers - 1` more API processes share the port (SO_REUSEPORT, the kernel spreads
    connections) on the database this one resolved."""
    from service.migrations import migrate_url

    asyncio.run(migrate_url(settings.database_url or "", settings.statement_cache_size))
    log.info("serving on http://%s:%s (docs at /api/docs)", host, port)
    children = []
    if workers > 1:
        env = {**os.environ, "DATABASE_URL": settings.database_url or ""}
        if not os.environ.get("FESTIVAL_JWT_SECRET"):
            env["FESTIVAL_JWT_SECRET"] = settings.jwt_secret
        command = [
            sys.executable,
            "-m",
            "service.cli",
            "serve",
            "--host",
            host,
            "--port",
            str(port),
            "--no-scheduler",
            "--reuse-port",
        ]
        children = [subprocess.Popen(command, env=env) for _ in range(workers - 1)]  # noqa: S603
    try:
        serve_forever(
            settings, host, port, scheduler=scheduler, reuse_port=reuse_port or bool(children)
        )
    finally:
        for child in children:
            child.terminate()
        for child in children:
            child.wait(timeout=30)
