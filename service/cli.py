"""The `festival` command: it parses arguments and calls the module that does the work."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import getpass
import logging
import signal
import sys
from collections.abc import Sequence
from datetime import date

from service.domain.context import Context
from service.errors import DomainError
from service.settings import Settings


def _setup_logging() -> None:
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("pgserver").setLevel(logging.WARNING)


def resolved_settings() -> Settings:
    """Settings with the database URL resolved (starting the embedded server if needed)."""
    from service.app import database_url

    settings = Settings.from_env()
    return dataclasses.replace(settings, database_url=database_url(settings))


def cmd_migrate(args: argparse.Namespace) -> int:
    from service.migrations import migrate_url

    settings = resolved_settings()
    applied = asyncio.run(migrate_url(settings.database_url or "", settings.statement_cache_size))
    print(f"migrations applied: {applied or 'none (already current)'}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from service.server import serve

    return serve(resolved_settings(), args.host, args.port, args.workers, not args.no_scheduler)


def cmd_run(args: argparse.Namespace) -> int:
    """`make run`: migrate, load the demo into an empty database, serve with the scheduler,
    and print what a newcomer needs to try it."""
    from service.demo.banner import newcomer_banner
    from service.demo.loader import load_if_empty, read_credentials
    from service.server import listening_socket, serve_forever

    settings = resolved_settings()
    asyncio.run(load_if_empty(settings, seed=2020, scale=args.demo_scale))
    base = f"http://{args.host}:{args.port}"
    banner = newcomer_banner(settings, base, read_credentials(settings.data_dir))
    sock = listening_socket(args.host, args.port)
    serve_forever(settings, sock, scheduler=True, banner=banner)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from service.demo.loader import load_if_empty

    credentials = asyncio.run(load_if_empty(resolved_settings(), seed=args.seed, scale=args.scale))
    if credentials is None:
        print("festival demo: the demo loads only into an empty database", file=sys.stderr)
        return 2
    bureau, merchant = credentials["bureau"], credentials["merchant"]
    print(f"demo bureau login: {bureau['username']} / {bureau['password']}")
    print(f"demo merchant: id {merchant['merchant_id']}, api key {merchant['api_key']}")
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
    from service.clock import Clock
    from service.db import open_database
    from service.domain.audit import operator
    from service.domain.logins import create_bureau_user

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
        async with open_database(settings, min_size=1, max_size=1) as db:
            return await create_bureau_user(
                Context(db=db, actor=operator(), now=Clock().now(), tz=settings.tz),
                args.username,
                password=password,
            )

    created = asyncio.run(create())
    print(f"bureau account {args.username} {'created' if created else 'password reset'}")
    return 0


def cmd_scheduler(args: argparse.Namespace) -> int:
    from jobs.commands import run_scheduler

    asyncio.run(run_scheduler(resolved_settings()))
    return 0


def cmd_jobs_list(args: argparse.Namespace) -> int:
    from jobs.commands import list_jobs

    print("\n".join(asyncio.run(list_jobs(resolved_settings()))))
    return 0


def cmd_jobs_run(args: argparse.Namespace) -> int:
    from jobs.commands import describe, job_named, run_job

    job = job_named(args.name)
    try:
        result = asyncio.run(run_job(resolved_settings(), job, day=args.date))
    except DomainError as err:  # e.g. day_not_over: nothing ran
        print(f"festival jobs run: {err.message}", file=sys.stderr)
        return 2
    print(describe(result))
    return {"succeeded": 0, "busy": 3}.get(result.outcome, 1)


def cmd_jobs_backfill(args: argparse.Namespace) -> int:
    from jobs.commands import backfill, job_named

    job = job_named(args.name)
    try:
        days, failures = asyncio.run(
            backfill(resolved_settings(), job, first=args.from_, last=args.to)
        )
    except DomainError as err:  # e.g. day_not_over: nothing ran
        print(f"festival jobs backfill: {err.message}", file=sys.stderr)
        return 2
    print(f"{job.name}: {days - failures} of {days} days succeeded")
    return 1 if failures else 0


def cmd_lottery_verify(args: argparse.Namespace) -> int:
    from service.lottery_verify import verify

    return verify(args.batch_id, args.url)


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from service.audit_verify import verify

    return asyncio.run(verify(resolved_settings()))


def cmd_ledger_verify(args: argparse.Namespace) -> int:
    from service.ledger_verify import verify

    return asyncio.run(verify(resolved_settings()))


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a YYYY-MM-DD date") from None


def _address(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="festival", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="migrate, then serve the API (and the scheduler)")
    _address(serve)
    serve.add_argument("--no-scheduler", action="store_true", help="serve the API only")
    serve.add_argument(
        "--workers", type=int, default=1, help="API processes sharing one socket (default 1)"
    )
    serve.set_defaults(func=cmd_serve)

    run = sub.add_parser("run", help="what `make run` does: migrate, serve, print how to try it")
    _address(run)
    run.add_argument("--demo-scale", type=float, default=1.0, help=argparse.SUPPRESS)
    run.set_defaults(func=cmd_run)

    demo = sub.add_parser("demo", help="load the demo festival into an empty database")
    demo.add_argument("--seed", type=int, default=2020)
    demo.add_argument("--scale", type=float, default=1.0, help="fraction of the full size")
    demo.set_defaults(func=cmd_demo)

    sub.add_parser("migrate", help="apply pending migrations and exit").set_defaults(
        func=cmd_migrate
    )

    token = sub.add_parser("token", help="print a signed token for operators and scripts")
    token.add_argument("--role", required=True, choices=["resident", "merchant", "bureau"])
    token.add_argument("--sub", required=True)
    token.add_argument("--mid", type=int, default=None, help="merchant id (merchant role only)")
    token.set_defaults(func=cmd_token)

    sub.add_parser("scheduler", help="run the scheduled jobs alone").set_defaults(
        func=cmd_scheduler
    )

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

    lottery = sub.add_parser("lottery", help="lottery batches")
    verify = lottery.add_subparsers(dest="lottery_command", required=True).add_parser(
        "verify", help="recompute a draw from its public record"
    )
    verify.add_argument("batch_id", type=int)
    verify.add_argument("--url", required=True, help="the service, e.g. https://festival.example")
    verify.set_defaults(func=cmd_lottery_verify)

    audit = sub.add_parser("audit", help="the bureau's audit trail")
    audit.add_subparsers(dest="audit_command", required=True).add_parser(
        "verify", help="recompute the hash chain; non-zero naming the first broken entry"
    ).set_defaults(func=cmd_audit_verify)

    ledger = sub.add_parser("ledger", help="the money ledger")
    ledger.add_subparsers(dest="ledger_command", required=True).add_parser(
        "verify", help="prove the ledger from the redemptions, clawbacks and bank records"
    ).set_defaults(func=cmd_ledger_verify)

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
    # A normal exit runs atexit hooks, which stop the embedded PostgreSQL.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
