"""Operators' credentials: `festival token` (a signed token for operators and scripts) and
`festival admin create` (a bureau account, or its password reset)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys

from service.commands import resolved_settings
from service.settings import Settings


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
    from service.domain.context import Context
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
