"""What a job's run gets: the business day it is for, the instant it runs at, the time zone."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from service.clock import Clock
from service.db import Database
from service.domain.messages import Delivery
from service.settings import RiskRules, Settings


@dataclass(frozen=True)
class RunContext:
    day: date
    now: datetime  # the festival's clock (a drill's, in a drill)
    tz: Any
    risk: RiskRules = field(default_factory=RiskRules)
    baseline_year: int = Settings.baseline_year
    # Parts of the run that failed while the rest went on (a risk rule in its savepoint):
    # the run is recorded failed with them, its other work kept.
    failures: list[str] = field(default_factory=list)
    # Real time, for what ages for people whatever a drill's clock says (rate-limit windows).
    real_now: datetime | None = None
    # For a job whose work must commit piece by piece, outside the run's own transaction
    # (send_messages: a message recorded sent must stay so if the run dies after it), and
    # the clock it reads as it goes.
    db: Database | None = None
    clock: Clock | None = None
    # How messages go out (None: a runner that queues messages but sends none).
    delivery: Delivery | None = None
