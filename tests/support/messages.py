"""The SMS outbox as the tests see it: residents who signed in by SMS, the send_messages job run
by the app's own runner (its clock, its sender), and the outbox's rows read back."""

from __future__ import annotations

from typing import Any

import asyncpg

from jobs.registry import BY_NAME
from jobs.runner import RunResult
from service import keys
from tests.conftest import Api
from tests.support.persons import sms_token

SEND = BY_NAME["send_messages"]
OUTBOX = "/api/v1/admin/messages"
PREFERENCES = "/api/v1/me/preferences"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def phone(n: int) -> str:
    """The n-th test phone: 139 0000 nnnn."""
    return f"1390000{n:04d}"


async def signed_in(api: Api, number: str) -> dict[str, str]:
    """A resident who signed in by SMS with `number` (so the service keeps the phone)."""
    return bearer(await sms_token(api, number))


async def send(api: Api) -> RunResult:
    """send_messages run now by the app's runner: on the app's clock, through its sender."""
    return await api.client.app[keys.JOBS].run_now(SEND)


async def rows(api: Api, where: str = "true", *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(api.settings.database_url)
    try:
        return await conn.fetch(f"SELECT * FROM messages WHERE {where} ORDER BY id", *args)
    finally:
        await conn.close()


async def sql(api: Api, query: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(api.settings.database_url)
    try:
        return await conn.fetch(query, *args)
    finally:
        await conn.close()
