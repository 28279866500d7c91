"""The app factory: `create_app(*, settings)` wires settings, database, auth and routes."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from jobs.runner import JobRunner
from jobs.scheduler import scheduler_for
from service import embedded_postgres, keys
from service.api import (
    applications,
    audit,
    batches,
    budget,
    cashiers,
    categories,
    claims,
    directory,
    drill,
    jobs_api,
    ledger,
    logins,
    lottery,
    merchants,
    messages,
    pages,
    payments,
    persons,
    redemptions,
    risk,
    settlements,
    stats,
    system,
    turnover,
)
from service.auth import TokenVerifier
from service.clock import Clock, DrillClock
from service.db import open_database
from service.domain import server_keys
from service.domain.claims import ClaimCombiner
from service.domain.drill import following
from service.domain.logins import SmsSender
from service.domain.messages import Delivery
from service.domain.persons import Bindings
from service.domain.phones import PhoneCipher
from service.domain.redemptions import RedemptionCombiner
from service.http import Endpoint, add_routes
from service.metrics import Metrics
from service.middlewares import middlewares
from service.openapi import build_spec
from service.settings import Settings
from service.sms import sms_sender_from_setting
from service.views.redemptions import redemption_text
from service.views.vouchers import voucher_text

log = logging.getLogger(__name__)

ROUTE_TABLES = [
    system.routes,
    categories.routes,
    logins.routes,
    merchants.routes,
    directory.routes,
    applications.routes,
    batches.routes,
    budget.routes,
    persons.routes,
    claims.routes,
    lottery.routes,
    messages.routes,
    redemptions.routes,
    cashiers.routes,
    stats.routes,
    settlements.routes,
    risk.routes,
    payments.routes,
    ledger.routes,
    turnover.routes,
    jobs_api.routes,
    drill.routes,
    audit.routes,
    pages.routes,
]


def all_endpoints() -> list[Endpoint]:
    return [ep for table in ROUTE_TABLES for ep in table.endpoints]


def database_url(settings: Settings) -> str:
    if settings.database_url:
        return settings.database_url
    return embedded_postgres.start(settings.data_dir)


def create_app(
    *,
    settings: Settings,
    clock: Clock | None = None,
    sms: SmsSender | None = None,
    scheduler: bool = False,
) -> web.Application:
    """The API; with `scheduler`, this process also runs the scheduled jobs. Without a
    `clock`, the festival's is real time, or in a drill (settings.drill) the drill clock,
    which follows the database's (a DrillClock given is followed too)."""
    app = web.Application(middlewares=middlewares(), client_max_size=settings.max_body_bytes)
    app[keys.SETTINGS] = settings
    app[keys.CLOCK] = clock or (DrillClock() if settings.drill else Clock())
    app[keys.VERIFIER] = TokenVerifier(settings)
    app[keys.BINDINGS] = Bindings()
    app[keys.METRICS] = Metrics()
    app[keys.SMS] = sms or sms_sender_from_setting(settings.sms_sender)
    app[keys.PHONES] = PhoneCipher(settings.phone_key_bytes())
    endpoints = all_endpoints()
    add_routes(app, endpoints)
    app[system.OPENAPI] = build_spec(endpoints)
    app.router.add_static("/api/docs/static", _swagger_ui_dir(), append_version=True)
    pages.add_static(app)
    app[keys.BACKGROUND] = set()
    app[keys.LIFECYCLE] = keys.Lifecycle()
    app.cleanup_ctx.append(_database)
    if scheduler:
        app.cleanup_ctx.append(_scheduler)
    return app


async def _database(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    resolved = dataclasses.replace(settings, database_url=database_url(settings))
    # `festival serve` migrated before it started serving.
    # Requests get a bounded pool; the jobs this process runs (or starts for the bureau) a
    # small one of their own, with no statement timeout, that never takes requests' connections
    # (one more than a run holds: send_messages commits its work beside its run's transaction).
    # A drill clock follows the stored offset from before the first request to the last.
    clock = app[keys.CLOCK]
    async with (
        open_database(resolved, migrate=False, bounded=True) as db,
        open_database(resolved, min_size=1, max_size=3, migrate=False) as jobs_db,
        following(db, clock),
    ):
        app[keys.DB] = db
        app[keys.SERVER_KEYS] = await server_keys.load(db)
        qr_key = app[keys.SERVER_KEYS]["qr_signing"]
        app[keys.CLAIMS] = ClaimCombiner(
            db,
            now=clock.now,
            render=lambda claimed: voucher_text(claimed, qr_key, settings.tz),
        )
        app[keys.REDEMPTIONS] = RedemptionCombiner(
            db,
            now=clock.now,
            tz=settings.tz,
            render=lambda redemption: redemption_text(redemption, settings.tz),
        )
        app[keys.JOBS] = JobRunner(
            jobs_db,
            clock,
            tz=settings.tz,
            risk=settings.risk,
            baseline_year=settings.baseline_year,
            delivery=delivery(settings, app[keys.SMS], app[keys.PHONES]),
        )
        yield
        await app[keys.CLAIMS].close()
        await app[keys.REDEMPTIONS].close()
        if app[keys.BACKGROUND]:
            await asyncio.gather(*app[keys.BACKGROUND], return_exceptions=True)


def delivery(settings: Settings, sender: SmsSender, cipher: PhoneCipher) -> Delivery:
    """How the send_messages job sends, by the settings."""
    return Delivery(
        sender=sender,
        cipher=cipher,
        lease_s=settings.sms_lease_s,
        concurrency=settings.sms_concurrency,
    )


async def _scheduler(app: web.Application) -> AsyncIterator[None]:
    scheduler = scheduler_for(app[keys.JOBS])
    scheduler.start()
    yield
    await scheduler.stop()


def _swagger_ui_dir() -> Path:
    import swagger_ui_bundle

    return Path(swagger_ui_bundle.swagger_ui_path)
