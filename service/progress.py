"""A progress bar on stderr for long commands (demo load, backfills)."""

from __future__ import annotations

import sys


def progress(done: int, total: int, text: str) -> None:
    width = 30
    filled = width * done // max(1, total)
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {text}  ")
    if done >= total:
        sys.stderr.write("\n")
    sys.stderr.flush()
