"""The `festival` command: serve, migrate, token, admin, run (a newcomer's `make run`)."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import getpass
import logging
import signal
import sys
from collections.abc import Sequence
from typing import Any

from service.settings import Settings

log = logging.getLogger("festival")


def _setup_logging() -> None:
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("pgserver").setLevel(logging.WARNING)


def _exit_on_sigterm() -> None:
    # A normal exit runs atexit hooks, which stop the embedded PostgreSQL.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


def resolved_settings() -> Settings:
    """Settings with the database URL resolved (starting the embedded server if needed)."""
    from service.app import database_url

    settings = Settings.from_env()
    return dataclasses.replace(settings, database_url=database_url(settings))


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


def cmd_migrate(args: argparse.Namespace) -> int:
    from service.migrations import migrate_url

    settings = resolved_settings()
    applied = _run(migrate_url(settings.database_url or ""))
    print(f"migrations applied: {applied or 'none (already current)'}")
    return 0


def _serve(settings: Settings, host: str, port: int, banner: str | None = None) -> None:
    from aiohttp import web

    from service.app import create_app
    from service.middlewares import AccessLogger

    try:
        import uvloop

        loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    except ImportError:  # pragma: no cover - uvloop is a dependency except on Windows
        loop = asyncio.new_event_loop()
    app = create_app(settings=settings)
    if banner:

        async def _print_banner(_: web.Application) -> None:
            print(banner, flush=True)

        app.on_startup.append(_print_banner)
    web.run_app(
        app,
        host=host,
        port=port,
        loop=loop,
        access_log=logging.getLogger("festival.access") if settings.access_log else None,
        access_log_class=AccessLogger,
        print=lambda *_: None,
        handle_signals=True,
    )


def cmd_serve(args: argparse.Namespace) -> int:
    from service.migrations import migrate_url

    settings = resolved_settings()
    _run(migrate_url(settings.database_url or ""))
    log.info("serving on http://%s:%s (docs at /api/docs)", args.host, args.port)
    _serve(settings, args.host, args.port)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """`make run`: migrate, then serve, printing what a newcomer needs to try it."""
    from service.auth import issue_token
    from service.migrations import migrate_url

    settings = resolved_settings()
    _run(migrate_url(settings.database_url or ""))
    base = f"http://{args.host}:{args.port}"
    bureau_token, _ = issue_token(settings, role="bureau", sub="bureau:make-run")
    banner = "\n".join(
        [
            "",
            "春暖槐荫消费节 voucher backend is serving",
            f"  API:        {base}/api/v1",
            f"  API docs:   {base}/api/docs",
            f"  data:       {settings.data_dir}",
            "",
            f"A bureau token to try things with (valid {settings.access_token_ttl_s // 3600} h):",
            f"  export TOKEN={bureau_token}",
            "",
            "Try:",
            f"  curl -s {base}/api/v1/categories",
            f"  curl -s {base}/api/v1/batches",
            f'  curl -s -H "Authorization: Bearer $TOKEN" {base}/api/v1/admin/merchants',
            "",
            "Residents' SMS login codes appear in this log. Ctrl-C stops it.",
            "",
        ]
    )
    _serve(settings, args.host, args.port, banner)
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    from service.auth import issue_token

    settings = Settings.from_env()
    try:
        token, _ = issue_token(settings, role=args.role, sub=args.sub, merchant_id=args.mid)
    except ValueError as err:
        print(f"festival token: {err}", file=sys.stderr)
        return 2
    print(token)
    return 0


def cmd_admin_create(args: argparse.Namespace) -> int:
    from service.auth import hash_password
    from service.db import Database

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"password for {args.username}: ")
        if password != getpass.getpass("again: "):
            print("the passwords differ", file=sys.stderr)
            return 2
    if len(password) < 10:
        print("a bureau password needs at least 10 characters", file=sys.stderr)
        return 2
    settings = resolved_settings()

    async def create() -> bool:
        from service.migrations import migrate_url

        await migrate_url(settings.database_url or "")
        db = await Database.connect(settings.database_url or "", min_size=1, max_size=1)
        try:
            row = await db.fetchrow("insert_bureau_user", args.username, hash_password(password))
            assert row is not None
            return bool(row["created"])
        finally:
            await db.close()

    created = _run(create())
    print(f"bureau account {args.username} {'created' if created else 'password reset'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="festival", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="migrate, then serve the API (and the scheduler)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--no-scheduler", action="store_true", help="serve the API only")
    serve.set_defaults(func=cmd_serve)

    run = sub.add_parser("run", help="what `make run` does: migrate, serve, print how to try it")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=8080)
    run.set_defaults(func=cmd_run)

    migrate = sub.add_parser("migrate", help="apply pending migrations and exit")
    migrate.set_defaults(func=cmd_migrate)

    token = sub.add_parser("token", help="print a signed token for operators and scripts")
    token.add_argument("--role", required=True, choices=["resident", "merchant", "bureau"])
    token.add_argument("--sub", required=True)
    token.add_argument("--mid", type=int, default=None, help="merchant id (merchant role only)")
    token.set_defaults(func=cmd_token)

    admin = sub.add_parser("admin", help="bureau accounts")
    admin_sub = admin.add_subparsers(dest="admin_command", required=True)
    create = admin_sub.add_parser("create", help="create a bureau account (or reset its password)")
    create.add_argument("username")
    create.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin"
    )
    create.set_defaults(func=cmd_admin_create)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    _setup_logging()
    _exit_on_sigterm()
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
