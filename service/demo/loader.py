"""`festival demo`: the 春暖槐荫消费节 as it ran, 1–31 May 2020, written through the same domain
functions and SQL as the live system with the clock set to the festival's days, then the
jobs' backfill, so every stat and settlement line is in place.

Shopping, dining and culture vouchers are released daily, first come first served; the auto
category's go by lottery (摇号) in four weekly rounds drawn by the `lottery_draw` job, and
each round's vouchers that expired unused are recycled into the round two weeks later. The
bureau's budgets leave room for a second month at the same pace.

Deterministic for a seed (apart from voucher codes and api keys, which are random by design).
This module plays the days in order; what each step writes is a module of its own (merchants,
batches, claims, lottery, redemptions, bureau, sales), sharing festival.DemoState.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import sys
import time as time_module
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from jobs.registry import BY_NAME
from jobs.runner import JobRunner
from service.clock import FixedClock
from service.db import Database, open_database
from service.demo import (
    applications,
    batches,
    bureau,
    claims,
    lottery,
    merchants,
    messages,
    redemptions,
    sales,
)
from service.demo.festival import (
    BASELINE_YEAR,
    BUREAU_USER,
    DAYS,
    DEMO,
    FIRST_DAY,
    RESIDENTS,
    USE_DAY_WEIGHTS,
    DemoState,
    Progress,
)
from service.demo.places import MERCHANTS
from service.domain import logins, server_keys
from service.domain.context import Context
from service.domain.messages import Delivery
from service.domain.phones import PhoneCipher
from service.errors import DomainError, ErrorCode
from service.progress import progress
from service.settings import Settings, phone_key_in


class DemoLoader(DemoState):
    """The festival day by day, in the order it happened (the random draws too: the same
    seed gives the same festival)."""

    async def load(self) -> Progress:
        keys = await server_keys.load(self.db)
        self.qr_key = keys["qr_signing"]
        await merchants.create(self)
        await sales.takings(self)
        await batches.create(self)
        residents = [f"demo-r{i:05d}" for i in range(max(10, int(RESIDENTS * self.scale)))]
        await messages.residents(self, residents)
        # The nightly jobs run as they would have: each day's rollup at 00:05 and its
        # settlement at 00:30 the next morning; send_messages each morning and after the
        # draws, through a sender that sends nothing.
        clock = FixedClock(self.at(FIRST_DAY, 0))
        assert self.phones is not None
        runner = JobRunner(
            self.db,
            clock,
            tz=self.tz,
            baseline_year=BASELINE_YEAR,
            delivery=Delivery(messages.DemoSender(), self.phones, concurrency=500),
        )
        # Vouchers claimed at the end of May are used (or expire) into June.
        total = DAYS + len(USE_DAY_WEIGHTS) + 1
        for n in range(total):
            day = FIRST_DAY + timedelta(days=n)
            await messages.morning(self, day, runner, clock)
            if n < DAYS:
                await claims.mules(self, day)  # bots claim at the opening second
                await claims.first_come(self, day, residents)
                await lottery.rounds(self, day, residents, runner, clock)
                await messages.after_draws(self, day, runner, clock)
            await redemptions.play(self, day)
            if n == DAYS - 1:
                await sales.baselines_2019(self)
            nightly = (("daily_rollup", 5), ("settlement", 30), ("risk_scan", 40), ("recovery", 50))
            for job, minute in nightly:
                clock.at = self.at(day + timedelta(days=1), minute * 60)
                for result in await runner.on_due(BY_NAME[job], clock.at):
                    if result.outcome != "succeeded":
                        raise RuntimeError(f"{job} for {result.period}: {result.outcome}")
            await bureau.morning(self, day)
            p = self.progress
            self.report(n + 1, total, f"{day}: {p.claims:,} vouchers, {p.redemptions:,} redeemed")
        return self.progress


async def is_empty(db: Database) -> bool:
    return bool(await db.fetchval("database_is_empty"))


async def load_demo(
    db: Database,
    tz: Any,
    data_dir: Path,
    *,
    seed: int = 2020,
    scale: float = 1.0,
    report: Callable[[int, int, str], None] = lambda *_: None,
    now: datetime | None = None,
    phones: PhoneCipher | None = None,
) -> dict[str, Any]:
    """Load the demo into an empty database; returns what a newcomer needs to try it.
    `phones` seals the residents' phones (by default with the data folder's phone key)."""
    if not await is_empty(db):
        raise DomainError(
            ErrorCode.CONFLICT,
            "the database already holds merchants or batches; "
            "the demo loads only into an empty database",
        )
    loader = DemoLoader(db, tz, seed=seed, scale=scale, report=report)
    loader.phones = phones or PhoneCipher(phone_key_in(data_dir))
    progress = await loader.load()
    now = now or datetime.now(tz)
    live = await batches.live_batches(db, now)
    await batches.set_budgets(db, now)
    await applications.pending(loader, now)
    password = secrets.token_urlsafe(12)
    await logins.create_bureau_user(
        Context(db=db, actor=DEMO, now=now, tz=now.tzinfo), username=BUREAU_USER, password=password
    )
    dining = loader.merchants["dining"][0]
    till = loader.cashiers[dining][0]
    credentials = {
        "bureau": {"username": BUREAU_USER, "password": password},
        "merchant": {
            "merchant_id": dining,
            "name": MERCHANTS["dining"][0][0],
            "api_key": loader.api_keys[dining],
        },
        # One of its cashiers: the cashier page signs in with the same merchant id.
        "cashier": {
            "merchant_id": dining,
            "cashier_id": till,
            "api_key": loader.cashier_keys[till],
        },
        "live_batches": live,
        "summary": {
            "vouchers": progress.claims,
            "redemptions": progress.redemptions,
            "checkouts": progress.checkouts,
            "reversals": progress.reversals,
            "refused": dict(progress.refused),
        },
    }
    write_credentials(data_dir, credentials)
    return credentials


def credentials_path(data_dir: Path) -> Path:
    return data_dir / "demo-credentials.json"


def write_credentials(data_dir: Path, credentials: dict[str, Any]) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    path = credentials_path(data_dir)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(credentials, f, ensure_ascii=False, indent=2)


def read_credentials(data_dir: Path) -> dict[str, Any] | None:
    path = credentials_path(data_dir)
    if not path.exists():
        return None
    data: dict[str, Any] = json.loads(path.read_text())
    return data


async def load_if_empty(settings: Settings, *, seed: int, scale: float) -> dict[str, Any] | None:
    """`festival demo` and `make run`: the demo into the settings' database if it is empty,
    with a progress bar; None when the database already holds a festival."""
    async with open_database(settings, min_size=2, max_size=10) as db:
        if not await is_empty(db):
            return None
        started = time_module.monotonic()
        print("loading the demo festival (1–31 May 2020)…", file=sys.stderr)
        # One progress bar instead of a log line per nightly job.
        logging.getLogger("festival.jobs").setLevel(logging.WARNING)
        credentials = await load_demo(
            db,
            settings.tz,
            settings.data_dir,
            seed=seed,
            scale=scale,
            report=progress,
            phones=PhoneCipher(settings.phone_key_bytes()),
        )
        summary = credentials["summary"]
        print(
            f"demo loaded in {time_module.monotonic() - started:.0f} s:"
            f" {summary['vouchers']:,} vouchers, {summary['redemptions']:,} redemptions,"
            f" {summary['reversals']:,} reversals",
            file=sys.stderr,
        )
        return credentials
