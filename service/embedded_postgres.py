"""Embedded PostgreSQL (the `pgserver` package) for a newcomer with nothing but Python.

The server lives under FESTIVAL_DATA_DIR/pgdata, is reused on the next start, and is stopped
when the last process using it exits: pgserver counts handles per process and stops the
server from an atexit hook, so a clean exit (also after Ctrl-C or SIGTERM, which the CLI turns
into a normal exit) is all it takes.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

log = logging.getLogger(__name__)

DATABASE_NAME = "festival"


def start(data_dir: Path, database: str = DATABASE_NAME) -> str:
    """Start (or attach to) the embedded server and return a URL for `database` on it."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset; pgserver only keeps a lock file there.
        warnings.simplefilter("ignore")
        import pgserver

        data_dir.mkdir(parents=True, exist_ok=True)
        server = pgserver.get_server(data_dir / "pgdata", cleanup_mode="stop")
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
    if "(1 row)" not in exists:
        server.psql(f'CREATE DATABASE "{database}";')
        log.info("created database %s on the embedded server", database)
    url: str = server.get_uri(database)
    log.info("embedded PostgreSQL at %s", data_dir / "pgdata")
    return url
