"""The `festival` command: serve, migrate, token, admin, run (a newcomer's `make run`)."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import getpass
import logging
import os
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
    applied = _run(migrate_url(settings.database_url or "", settings.statement_cache_size))
    print(f"migrations applied: {applied or 'none (already current)'}")
    return 0


DRAIN_SECONDS = 2.0


def _serve(
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
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
        app[keys.LIFECYCLE].draining = True
        await asyncio.sleep(DRAIN_SECONDS)
        await site.stop()
    finally:
        await runner.cleanup()


def cmd_serve(args: argparse.Namespace) -> int:
    import subprocess

    from service.migrations import migrate_url

    settings = resolved_settings()
    _run(migrate_url(settings.database_url or "", settings.statement_cache_size))
    log.info("serving on http://%s:%s (docs at /api/docs)", args.host, args.port)
    # More workers share the port (SO_REUSEPORT, the kernel spreads connections); they are
    # plain API processes on the database this one resolved, and only this one schedules.
    workers = []
    if args.workers > 1:
        env = {**os.environ, "DATABASE_URL": settings.database_url or ""}
        if not os.environ.get("FESTIVAL_JWT_SECRET"):
            env["FESTIVAL_JWT_SECRET"] = settings.jwt_secret
        command = [
            sys.executable,
            "-m",
            "service.cli",
            "serve",
            "--host",
            args.host,
            "--port",
            str(args.port),
            "--no-scheduler",
            "--reuse-port",
        ]
        workers = [subprocess.Popen(command, env=env) for _ in range(args.workers - 1)]  # noqa: S603
    try:
        _serve(
            settings,
            args.host,
            args.port,
            scheduler=not args.no_scheduler,
            reuse_port=args.reuse_port or bool(workers),
        )
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=30)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """`make run`: migrate, load the demo into an empty database, serve with the scheduler,
    and print what a newcomer needs to try it."""
    from service.demo.loader import read_credentials

    settings = resolved_settings()
    _run(_load_demo(settings, seed=2020, scale=args.demo_scale))
    banner = newcomer_banner(
        settings, f"http://{args.host}:{args.port}", read_credentials(settings.data_dir)
    )
    _serve(settings, args.host, args.port, scheduler=True, banner=banner)
    return 0


def newcomer_banner(settings: Settings, base: str, demo: dict[str, Any] | None) -> str:
    from service.auth import issue_token

    hours = settings.access_token_ttl_s // 3600
    bureau, _ = issue_token(settings, role="bureau", sub="bureau:make-run")
    lines = [
        "",
        "春暖槐荫消费节 voucher backend is serving",
        f"  residents:  {base}/            (phone page: sign in with any mobile number)",
        f"  cashier:    {base}/cashier",
        f"  bureau:     {base}/bureau",
        f"  API:        {base}/api/v1",
        f"  API docs:   {base}/api/docs",
        f"  data:       {settings.data_dir}",
        "",
        f"Tokens to try things with (valid {hours} h); paste these into another terminal:",
        f"  export BUREAU_TOKEN={bureau}",
    ]
    auth = '-H "Authorization: Bearer $BUREAU_TOKEN"'
    examples = [
        "  # the festival's daily numbers as CSV",
        f'  curl -s {auth} "{base}/api/v1/stats/daily?from=2020-05-01&to=2020-05-31&format=csv"'
        " | head",
    ]
    if demo is not None:
        merchant = demo["merchant"]
        resident, _ = issue_token(settings, role="resident", sub="demo-visitor")
        cashier, _ = issue_token(
            settings,
            role="merchant",
            sub=f"merchant:{merchant['merchant_id']}",
            merchant_id=merchant["merchant_id"],
        )
        lines += [
            f"  export RESIDENT_TOKEN={resident}",
            f"  export MERCHANT_TOKEN={cashier}",
        ]
        dining = demo["live_batches"]["dining"]
        examples += [
            "  # claim a voucher of the open dining batch (满50减10) and keep its code",
            f'  CODE=$(curl -s -X POST -H "Authorization: Bearer $RESIDENT_TOKEN" '
            f"{base}/api/v1/batches/{dining}/claims"
            " | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"code\"])'); echo $CODE",
            f"  # redeem it at {merchant['name']}: an order of 88.00 yuan",
            '  curl -s -X POST -H "Authorization: Bearer $MERCHANT_TOKEN"'
            ' -H "Idempotency-Key: try-$CODE" -H "Content-Type: application/json"'
            ' -d "{\\"code\\": \\"$CODE\\", \\"order_amount_fen\\": 8800,'
            ' \\"order_ref\\": \\"try-1\\"}"'
            f" {base}/api/v1/merchant/redemptions",
        ]
    lines += ["", "Try:", *examples, ""]
    if demo is not None:
        lines += [
            f"Demo logins for the pages (also in {settings.data_dir / 'demo-credentials.json'}):",
            f"  bureau page:  {demo['bureau']['username']} / {demo['bureau']['password']}",
            f"  cashier page: merchant id {demo['merchant']['merchant_id']}"
            f" ({demo['merchant']['name']}), api key {demo['merchant']['api_key']}",
            "",
        ]
    lines += [
        "Residents' SMS login codes appear in this log (look for 'SMS login code').",
        "Ctrl-C stops it.",
        "",
    ]
    return "\n".join(lines)


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

        await migrate_url(settings.database_url or "", settings.statement_cache_size)
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


async def _with_runner(settings: Settings, work: Any) -> Any:
    from jobs.runner import JobRunner
    from service.clock import Clock
    from service.db import Database
    from service.migrations import migrate_url

    await migrate_url(settings.database_url or "", settings.statement_cache_size)
    db = await Database.connect(
        settings.database_url or "",
        min_size=1,
        max_size=2,
        statement_cache_size=settings.statement_cache_size,
    )
    try:
        return await work(JobRunner(db, Clock(), settings.tz))
    finally:
        await db.close()


def cmd_scheduler(args: argparse.Namespace) -> int:
    """The jobs alone, until SIGTERM or Ctrl-C."""
    from jobs.scheduler import FestivalScheduler

    settings = resolved_settings()

    async def forever(runner: Any) -> None:
        scheduler = FestivalScheduler(runner)
        scheduler.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            await scheduler.stop()

    _run(_with_runner(settings, forever))
    return 0


def cmd_jobs_list(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from jobs.registry import JOBS
    from jobs.scheduler import next_run_at

    settings = resolved_settings()

    async def show(runner: Any) -> None:
        last = {r["job"]: r for r in await runner.db.fetch("jobs_last_runs")}
        running = await runner.running()
        now = datetime.now(UTC)
        print(f"{'job':<18} {'schedule':<16} {'next run':<26} last run")
        for job in JOBS:
            run = last.get(job.name)
            nxt = next_run_at(job, settings.tz, now)
            if job.name in running:
                last_text = "running now"
            elif run is None:
                last_text = "never"
            else:
                last_text = f"{run['status']} for {run['period']} ({run['rows']} rows)"
                if run["error"]:
                    last_text += f": {run['error']}"
            print(
                f"{job.name:<18} {job.schedule:<16} {nxt.isoformat() if nxt else '-':<26} {last_text}"
            )

    _run(_with_runner(settings, show))
    return 0


def _job(name: str) -> Any:
    from jobs.registry import BY_NAME

    if name not in BY_NAME:
        raise SystemExit(f"no job named {name!r}; jobs: {', '.join(BY_NAME)}")
    return BY_NAME[name]


def cmd_jobs_run(args: argparse.Namespace) -> int:
    job = _job(args.name)
    settings = resolved_settings()
    result = _run(_with_runner(settings, lambda runner: runner.run_now(job, args.date)))
    print(
        f"{result.job} for {result.period}: {result.outcome}"
        + (f", {result.rows} rows" if result.rows is not None else "")
        + (f" ({result.error})" if result.error else "")
    )
    return {"succeeded": 0, "busy": 3}.get(result.outcome, 1)


def cmd_jobs_backfill(args: argparse.Namespace) -> int:
    from datetime import timedelta

    job = _job(args.name)
    if not job.daily:
        raise SystemExit(f"{job.name} is not a daily job; use festival jobs run")
    if args.to < args.from_:
        raise SystemExit("--from must not be after --to")
    days = [args.from_ + timedelta(days=i) for i in range((args.to - args.from_).days + 1)]
    settings = resolved_settings()

    async def fill(runner: Any) -> int:
        failures = 0
        for i, day in enumerate(days, start=1):
            result = await runner.run_day(job, day, force=True)
            failures += result.outcome != "succeeded"
            _progress(i, len(days), f"{day} {result.outcome}")
        print(file=sys.stderr)
        return failures

    failures = _run(_with_runner(settings, fill))
    print(f"{job.name}: {len(days) - failures} of {len(days)} days succeeded")
    return 1 if failures else 0


def _progress(done: int, total: int, text: str) -> None:
    width = 30
    filled = width * done // total
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {text}  ")
    sys.stderr.flush()


def _date(value: str) -> Any:
    from datetime import date

    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a YYYY-MM-DD date") from None


async def _load_demo(settings: Settings, seed: int, scale: float) -> dict[str, Any] | None:
    """The demo festival, if the database is empty; None when it already holds data."""
    import time

    from service.db import Database
    from service.demo.loader import is_empty, load_demo
    from service.migrations import migrate_url

    await migrate_url(settings.database_url or "", settings.statement_cache_size)
    db = await Database.connect(settings.database_url or "", min_size=2, max_size=10)
    try:
        if not await is_empty(db):
            return None
        started = time.monotonic()
        print("loading the demo festival (1–31 May 2020)…", file=sys.stderr)
        # One progress bar instead of a log line per nightly job.
        logging.getLogger("festival.jobs").setLevel(logging.WARNING)
        credentials = await load_demo(
            db, settings.tz, settings.data_dir, seed=seed, scale=scale, report=_progress
        )
        print(file=sys.stderr)
        summary = credentials["summary"]
        print(
            f"demo loaded in {time.monotonic() - started:.0f} s: {summary['vouchers']:,} vouchers,"
            f" {summary['redemptions']:,} redemptions, {summary['reversals']:,} reversals",
            file=sys.stderr,
        )
        return credentials
    finally:
        await db.close()


def cmd_demo(args: argparse.Namespace) -> int:
    settings = resolved_settings()
    credentials = _run(_load_demo(settings, args.seed, args.scale))
    if credentials is None:
        print(
            "festival demo: the database already holds merchants or batches; the demo loads"
            " only into an empty database",
            file=sys.stderr,
        )
        return 2
    bureau, merchant = credentials["bureau"], credentials["merchant"]
    print(f"demo bureau login: {bureau['username']} / {bureau['password']}")
    print(f"demo merchant: id {merchant['merchant_id']}, api key {merchant['api_key']}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="festival", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="migrate, then serve the API (and the scheduler)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--no-scheduler", action="store_true", help="serve the API only")
    serve.add_argument(
        "--workers", type=int, default=1, help="API processes sharing the port (default 1)"
    )
    serve.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)
    serve.set_defaults(func=cmd_serve)

    run = sub.add_parser("run", help="what `make run` does: migrate, serve, print how to try it")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=8080)
    run.add_argument("--demo-scale", type=float, default=1.0, help=argparse.SUPPRESS)
    run.set_defaults(func=cmd_run)

    demo = sub.add_parser("demo", help="load the demo festival into an empty database")
    demo.add_argument("--seed", type=int, default=2020)
    demo.add_argument("--scale", type=float, default=1.0, help="fraction of the full size")
    demo.set_defaults(func=cmd_demo)

    migrate = sub.add_parser("migrate", help="apply pending migrations and exit")
    migrate.set_defaults(func=cmd_migrate)

    token = sub.add_parser("token", help="print a signed token for operators and scripts")
    token.add_argument("--role", required=True, choices=["resident", "merchant", "bureau"])
    token.add_argument("--sub", required=True)
    token.add_argument("--mid", type=int, default=None, help="merchant id (merchant role only)")
    token.set_defaults(func=cmd_token)

    scheduler = sub.add_parser("scheduler", help="run the scheduled jobs alone")
    scheduler.set_defaults(func=cmd_scheduler)

    jobs = sub.add_parser("jobs", help="list, run or backfill the scheduled jobs")
    jobs_sub = jobs.add_subparsers(dest="jobs_command", required=True)
    jobs_list = jobs_sub.add_parser("list", help="each job, its schedule and its last run")
    jobs_list.set_defaults(func=cmd_jobs_list)
    jobs_run = jobs_sub.add_parser(
        "run", help="run a job now (daily jobs: for --date, default yesterday)"
    )
    jobs_run.add_argument("name")
    jobs_run.add_argument("--date", type=_date, default=None)
    jobs_run.set_defaults(func=cmd_jobs_run)
    backfill = jobs_sub.add_parser("backfill", help="run a daily job for every day of a range")
    backfill.add_argument("name")
    backfill.add_argument("--from", dest="from_", type=_date, required=True)
    backfill.add_argument("--to", type=_date, required=True)
    backfill.set_defaults(func=cmd_jobs_backfill)

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
