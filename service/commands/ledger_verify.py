"""`festival ledger verify`: prove the money ledger against the records that caused it."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from service.commands import resolved_settings
from service.settings import Settings


def cmd_ledger_verify(args: argparse.Namespace) -> int:
    return asyncio.run(verify(resolved_settings()))


async def verify(settings: Settings) -> int:
    """0 when every check of API.md's "Verify" holds; else 1, naming each problem."""
    from service.db import open_database
    from service.domain import ledger

    async with open_database(settings, min_size=1, max_size=1) as db:
        result = await ledger.verify(db)
    totals = result.checks.get("totals", {})
    if result.ok:
        print(f"ledger balanced: {json.dumps(totals, sort_keys=True)}")
        return 0
    print(f"ledger NOT balanced ({len(result.problems)} problem(s)):", file=sys.stderr)
    for problem in result.problems:
        print(f"  {problem}", file=sys.stderr)
    return 1
