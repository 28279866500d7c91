"""Every aiohttp AppKey and request key of the service, in one place."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    import asyncio

    from jobs.runner import JobRunner
    from service.auth import TokenVerifier
    from service.clock import Clock
    from service.db import Database
    from service.domain.claims import ClaimCombiner
    from service.domain.logins import SmsSender
    from service.domain.persons import Bindings
    from service.domain.phones import PhoneCipher
    from service.domain.redemptions import RedemptionCombiner
    from service.metrics import Metrics
    from service.settings import Settings

SETTINGS: web.AppKey[Settings] = web.AppKey("settings")
DB: web.AppKey[Database] = web.AppKey("db")
CLOCK: web.AppKey[Clock] = web.AppKey("clock")
VERIFIER: web.AppKey[TokenVerifier] = web.AppKey("verifier")
METRICS: web.AppKey[Metrics] = web.AppKey("metrics")
SMS: web.AppKey[SmsSender] = web.AppKey("sms")
# Seals and opens residents' phones (FESTIVAL_PHONE_KEY).
PHONES: web.AppKey[PhoneCipher] = web.AppKey("phones")
CLAIMS: web.AppKey[ClaimCombiner] = web.AppKey("claims")
REDEMPTIONS: web.AppKey[RedemptionCombiner] = web.AppKey("redemptions")
JOBS: web.AppKey[JobRunner] = web.AppKey("jobs")
BINDINGS: web.AppKey[Bindings] = web.AppKey("bindings")


class Lifecycle:
    """Mutable process state the handlers read: draining = shutting down gracefully."""

    def __init__(self) -> None:
        self.draining = False
        # When this process last answered 503 (the database slow, away or out of connections):
        # /readyz reports it for a few seconds after.
        self.unavailable_at = float("-inf")


LIFECYCLE: web.AppKey[Lifecycle] = web.AppKey("lifecycle")
# Work started by a request that outlives it (a job run), awaited on shutdown.
BACKGROUND: web.AppKey[set[asyncio.Task[object]]] = web.AppKey("background")
# Keys kept in the database (app_keys table), loaded at start.
SERVER_KEYS: web.AppKey[dict[str, bytes]] = web.AppKey("server_keys")

REQUEST_ID: web.RequestKey[str] = web.RequestKey("request_id")
