"""`festival demo`: load the demo festival into an empty database."""

from __future__ import annotations

import argparse
import asyncio
import sys

from service.commands import resolved_settings


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
