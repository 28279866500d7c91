"""`festival lottery verify BATCH_ID --url URL`: recompute a lottery's draw from its public
record, as any resident or auditor can, with nothing but the record and SHA-256."""

from __future__ import annotations

import argparse
import json
import sys
import urllib.request


def cmd_lottery_verify(args: argparse.Namespace) -> int:
    return verify(args.batch_id, args.url)


def verify(batch_id: int, url: str) -> int:
    from service.domain.lottery import verify_record

    address = f"{url.rstrip('/')}/api/v1/batches/{batch_id}/draw"
    try:
        with urllib.request.urlopen(address, timeout=120) as resp:  # noqa: S310 (the user's URL)
            record = json.loads(resp.read())
    except OSError as err:
        print(f"could not read {address}: {err}", file=sys.stderr)
        return 2
    problems = verify_record(record)
    if problems:
        for problem in problems:
            print(f"FAILED: {problem}")
        return 1
    print(
        f"verified: batch {batch_id}, {record['entries']} entries, "
        f"{len(record['winner_entry_ids'])} winners; the seed matches its commitment "
        f"{record['seed_commitment'][:16]}…, the ranking is HMAC-SHA256(seed, entry_id) and the "
        f"winners are its first {len(record['winner_entry_ids'])}"
    )
    return 0
