"""`festival audit verify`: recompute the audit trail's hash chain from the database."""

from __future__ import annotations

import argparse
import asyncio
import sys

from service.commands import resolved_settings
from service.settings import Settings


def cmd_audit_verify(args: argparse.Namespace) -> int:
    return asyncio.run(verify(resolved_settings()))


async def verify(settings: Settings) -> int:
    """0 when every entry links to the one before and matches its hash; else 1, naming the
    first entry that does not (everything after it is unproven)."""
    from service.db import open_database
    from service.domain import audit

    async with open_database(settings, min_size=1, max_size=1) as db:
        result = await audit.verify(db)
    if result.ok:
        print(f"audit trail intact: {result.checked} entries")
        return 0
    print(
        f"audit trail broken at entry {result.broken_id}: {result.reason}"
        f" ({result.checked} entries before it are intact)",
        file=sys.stderr,
    )
    return 1
