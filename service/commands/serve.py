"""`festival serve` and `festival run` (what `make run` does)."""

from __future__ import annotations

import argparse
import asyncio

from service.commands import resolved_settings


def cmd_serve(args: argparse.Namespace) -> int:
    from service.server import serve

    return serve(resolved_settings(), args.host, args.port, args.workers, not args.no_scheduler)


def cmd_run(args: argparse.Namespace) -> int:
    """`make run`: migrate, load the demo into an empty database, serve with the scheduler,
    and print what a newcomer needs to try it."""
    from service.commands.banner import newcomer_banner
    from service.demo.loader import load_if_empty, read_credentials
    from service.server import listening_socket, serve_forever

    settings = resolved_settings()
    asyncio.run(load_if_empty(settings, seed=2020, scale=args.demo_scale))
    base = f"http://{args.host}:{args.port}"
    banner = newcomer_banner(settings, base, read_credentials(settings.data_dir))
    sock = listening_socket(args.host, args.port)
    serve_forever(settings, sock, scheduler=True, banner=banner)
    return 0
