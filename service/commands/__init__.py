"""What the `festival` commands do, one module per family; service/cli.py only parses the
arguments and calls a `cmd_*` function here, which returns the exit code.

A command imports what it runs inside its function: `festival token` loads neither the web
app nor the jobs, and every API worker starts through this command line."""

from __future__ import annotations

import dataclasses

from service.settings import Settings


def resolved_settings() -> Settings:
    """Settings with the database URL resolved (starting the embedded server if needed)."""
    from service.app import database_url

    settings = Settings.from_env()
    return dataclasses.replace(settings, database_url=database_url(settings))
