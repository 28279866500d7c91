"""`festival migrate`: apply pending migrations and exit."""

from __future__ import annotations

import argparse
import asyncio

from service.commands import resolved_settings


def cmd_migrate(args: argparse.Namespace) -> int:
    from service.migrations import migrate_url

    settings = resolved_settings()
    applied = asyncio.run(migrate_url(settings.database_url or "", settings.statement_cache_size))
    print(f"migrations applied: {applied or 'none (already current)'}")
    return 0
