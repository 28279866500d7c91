"""What a job's run gets: the business day it is for, the instant it runs at, the time zone."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from service.settings import RiskRules


@dataclass(frozen=True)
class RunContext:
    day: date
    now: datetime
    tz: Any
    risk: RiskRules = field(default_factory=RiskRules)
    baseline_year: int = 2019


def rows_of(status: str) -> int:
    """Rows touched, from asyncpg's command status ("INSERT 0 4", "UPDATE 7", "DELETE 0")."""
    return int(status.rsplit(" ", 1)[-1])
