"""Serving the API: one listening socket, shared by every API process, and a drain on SIGTERM
that loses no request.

The socket comes from systemd (socket activation, `LISTEN_FDS`: deploy/festival-api.socket),
from the `festival serve --workers N` supervisor (`FESTIVAL_LISTEN_FD`), or is opened here.
Connections wait in that one kernel queue, which no single process owns: a process that stops
leaves the queued connections to the others instead of resetting them (as SO_REUSEPORT, one
queue per process, would).

Draining (SIGTERM): stop accepting, answer what is in flight with `Connection: close` so
clients (nginx) stop reusing connections to this process, wait until the connections are
gone (nginx closes its idle ones after its upstream keepalive_timeout, deploy/), then exit.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import socket
import subprocess
import time

from service.processes import FESTIVAL, until_stopped
from service.settings import Settings

log = logging.getLogger("festival")

# How long a stopping process waits for its connections to go (they close after their next
# answer, or when nginx drops them idle), before closing what is left.
DRAIN_MAX_S = 10.0
# A worker that dies within this many seconds of its start is restarted after a pause; after
# this many such deaths in a row the supervisor gives up (a broken setting, not a fault).
CRASH_LOOP_S = 5.0
CRASH_LOOP_LIMIT = 5
SYSTEMD_FIRST_FD = 3


def listening_socket(host: str, port: int) -> socket.socket:
    """The socket to serve on: systemd's, the supervisor's, or a new one."""
    if os.environ.get("LISTEN_FDS") and os.environ.get("LISTEN_PID") == str(os.getpid()):
        sock = socket.socket(fileno=SYSTEMD_FIRST_FD)
    elif os.environ.get("FESTIVAL_LISTEN_FD"):
        sock = socket.socket(fileno=int(os.environ["FESTIVAL_LISTEN_FD"]))
    else:
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(1024)
    sock.setblocking(False)
    return sock


def serve_forever(
    settings: Settings,
    sock: socket.socket,
    *,
    scheduler: bool,
    banner: str | None = None,
) -> None:
    try:
        import uvloop

        loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    except ImportError:  # pragma: no cover - uvloop is a dependency except on Windows
        loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(_serve_until_stopped(settings, sock, scheduler, banner))
    finally:
        loop.close()


async def _serve_until_stopped(
    settings: Settings, sock: socket.socket, scheduler: bool, banner: str | None
) -> None:
    from aiohttp import web

    from service import keys
    from service.app import create_app
    from service.http_server import FestivalRunner
    from service.middlewares import AccessLogger, quiet_malformed_requests

    quiet_malformed_requests()
    app = create_app(settings=settings, scheduler=scheduler)
    runner = FestivalRunner(
        app,
        access_log=logging.getLogger("festival.access") if settings.access_log else None,
        access_log_class=AccessLogger,
        handle_signals=False,
    )
    await runner.setup()
    site = web.SockSite(runner, sock)
    await site.start()
    # What start-up made (modules, routes, schemas, the OpenAPI document) lives as long as
    # the process: out of the collector's sight, a full collection no longer walks it in the
    # middle of a request. The wallet's p99 under 64 connections went from 39–47 ms (one run
    # 312) to 24–32 ms (docs/performance.md).
    gc.collect()
    gc.freeze()
    bound_host, bound_port = sock.getsockname()[:2]
    log.info("serving on http://%s:%s (docs at /api/docs)", bound_host, bound_port)
    if banner:
        print(banner, flush=True)
    try:
        await until_stopped()
        app[keys.LIFECYCLE].draining = True
        await site.stop()  # this process stops accepting; the others keep the socket open
        # aiohttp tells nobody when its last connection closes: look every 50 ms.
        for _ in range(int(DRAIN_MAX_S / 0.05)):
            if runner.server is None or not runner.server.connections:
                break
            await asyncio.sleep(0.05)
    finally:
        await runner.cleanup()


def serve(settings: Settings, host: str, port: int, workers: int, scheduler: bool) -> int:
    """`festival serve`: migrate, then serve. One worker serves in this process; more are
    child processes on this process's socket, which then only supervises them: it restarts
    one that dies and, on SIGTERM, drains them all."""
    from service.migrations import migrate_url

    asyncio.run(migrate_url(settings.database_url or "", settings.statement_cache_size))
    sock = listening_socket(host, port)
    if workers > 1:
        return supervise(settings, sock, workers, scheduler)
    serve_forever(settings, sock, scheduler=scheduler)
    return 0


def supervise(settings: Settings, sock: socket.socket, workers: int, scheduler: bool) -> int:
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url or "",
        "FESTIVAL_JWT_SECRET": settings.jwt_secret,
        "FESTIVAL_LISTEN_FD": str(sock.fileno()),
    }
    env.pop("LISTEN_FDS", None)
    env.pop("LISTEN_PID", None)

    def start(i: int) -> subprocess.Popen[bytes]:
        # The first worker runs the scheduler (unless told not to); jobs run once per due
        # time anyway, whoever runs them.
        extra = [] if scheduler and i == 0 else ["--no-scheduler"]
        return subprocess.Popen(  # noqa: S603 (our own command)
            [*FESTIVAL, "serve", *extra], env=env, pass_fds=(sock.fileno(),)
        )

    children = {i: start(i) for i in range(workers)}
    started = {i: time.monotonic() for i in children}
    quick_deaths = dict.fromkeys(children, 0)
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        while not stopping:
            time.sleep(0.2)
            for i, child in list(children.items()):
                if child.poll() is None or stopping:
                    continue
                quick = time.monotonic() - started[i] < CRASH_LOOP_S
                quick_deaths[i] = quick_deaths[i] + 1 if quick else 0
                if quick_deaths[i] >= CRASH_LOOP_LIMIT:
                    log.error("worker %d keeps exiting (%s); giving up", i, child.returncode)
                    stopping = True
                    break
                log.warning("worker %d exited (%s); starting another", i, child.returncode)
                if quick:
                    time.sleep(1)
                children[i], started[i] = start(i), time.monotonic()
    finally:
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children.values():
            try:
                child.wait(timeout=DRAIN_MAX_S + 20)
            except subprocess.TimeoutExpired:
                child.kill()
        sock.close()
    return 0 if all(c.returncode in (0, -signal.SIGTERM) for c in children.values()) else 1
