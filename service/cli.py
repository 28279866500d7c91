"""The `festival` command: it parses arguments and calls the module that does the work."""

# The modules are service/commands/, one per family of commands; nothing else lives here.

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Sequence
from datetime import date

from service.commands import (
    admin,
    audit_verify,
    demo,
    jobs,
    ledger_verify,
    lottery_verify,
    migrate,
    serve,
)


def _setup_logging() -> None:
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("pgserver").setLevel(logging.WARNING)


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

    serve_parser = sub.add_parser("serve", help="migrate, then serve the API (and the scheduler)")
    _address(serve_parser)
    serve_parser.add_argument("--no-scheduler", action="store_true", help="serve the API only")
    serve_parser.add_argument(
        "--workers", type=int, default=1, help="API processes sharing one socket (default 1)"
    )
    serve_parser.set_defaults(func=serve.cmd_serve)

    run = sub.add_parser("run", help="what `make run` does: migrate, serve, print how to try it")
    _address(run)
    run.add_argument("--demo-scale", type=float, default=1.0, help=argparse.SUPPRESS)
    run.set_defaults(func=serve.cmd_run)

    demo_parser = sub.add_parser("demo", help="load the demo festival into an empty database")
    demo_parser.add_argument("--seed", type=int, default=2020)
    demo_parser.add_argument("--scale", type=float, default=1.0, help="fraction of the full size")
    demo_parser.set_defaults(func=demo.cmd_demo)

    sub.add_parser("migrate", help="apply pending migrations and exit").set_defaults(
        func=migrate.cmd_migrate
    )

    token = sub.add_parser("token", help="print a signed token for operators and scripts")
    token.add_argument("--role", required=True, choices=["resident", "merchant", "bureau"])
    token.add_argument("--sub", required=True)
    token.add_argument("--mid", type=int, default=None, help="merchant id (merchant role only)")
    token.set_defaults(func=admin.cmd_token)

    sub.add_parser("scheduler", help="run the scheduled jobs alone").set_defaults(
        func=jobs.cmd_scheduler
    )

    jobs_parser = sub.add_parser("jobs", help="list, run or backfill the scheduled jobs")
    jobs_sub = jobs_parser.add_subparsers(dest="jobs_command", required=True)
    jobs_list = jobs_sub.add_parser("list", help="each job, its schedule and its last run")
    jobs_list.set_defaults(func=jobs.cmd_jobs_list)
    jobs_run = jobs_sub.add_parser(
        "run", help="run a job now (daily jobs: for --date, default yesterday)"
    )
    jobs_run.add_argument("name")
    jobs_run.add_argument("--date", type=_date, default=None)
    jobs_run.set_defaults(func=jobs.cmd_jobs_run)
    backfill = jobs_sub.add_parser("backfill", help="run a daily job for every day of a range")
    backfill.add_argument("name")
    backfill.add_argument("--from", dest="from_", type=_date, required=True)
    backfill.add_argument("--to", type=_date, required=True)
    backfill.set_defaults(func=jobs.cmd_jobs_backfill)

    lottery = sub.add_parser("lottery", help="lottery batches")
    verify = lottery.add_subparsers(dest="lottery_command", required=True).add_parser(
        "verify", help="recompute a draw from its public record"
    )
    verify.add_argument("batch_id", type=int)
    verify.add_argument("--url", required=True, help="the service, e.g. https://festival.example")
    verify.set_defaults(func=lottery_verify.cmd_lottery_verify)

    audit = sub.add_parser("audit", help="the bureau's audit trail")
    audit.add_subparsers(dest="audit_command", required=True).add_parser(
        "verify", help="recompute the hash chain; non-zero naming the first broken entry"
    ).set_defaults(func=audit_verify.cmd_audit_verify)

    ledger = sub.add_parser("ledger", help="the money ledger")
    ledger.add_subparsers(dest="ledger_command", required=True).add_parser(
        "verify", help="prove the ledger from the redemptions, clawbacks and bank records"
    ).set_defaults(func=ledger_verify.cmd_ledger_verify)

    admin_parser = sub.add_parser("admin", help="bureau accounts")
    admin_sub = admin_parser.add_subparsers(dest="admin_command", required=True)
    create = admin_sub.add_parser("create", help="create a bureau account (or reset its password)")
    create.add_argument("username")
    create.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin"
    )
    create.set_defaults(func=admin.cmd_admin_create)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    _setup_logging()
    # A normal exit runs atexit hooks, which stop the embedded PostgreSQL.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
