"""What every audited write takes, once: the database, who acts, when, and the festival's time
zone. A handler builds it from its request (Call.context), a command or the demo from
themselves; a write passes it on instead of repeating `db, actor, now, tz`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from service.db import Database


@dataclass(frozen=True)
class Actor:
    """Who writes: a bureau account (its token's `sub`) within a request, or a command."""

    name: str
    request_id: str | None = None


@dataclass(frozen=True)
class Context:
    db: Database
    actor: Actor
    now: datetime
    tz: Any
