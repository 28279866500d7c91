"""Persons behind resident accounts (API.md, "Identity"), and the bureau's suspensions of
them: a suspended person's accounts can neither claim nor enter a lottery."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from service.db import Conn, Database
from service.errors import DomainError, ErrorCode


def suspended() -> DomainError:
    return DomainError(
        ErrorCode.FORBIDDEN,
        "this identity is suspended from the festival; the commerce bureau can say why",
        {"suspended": True},
    )


async def refuse_if_suspended(tx: Conn, person: str) -> None:
    if await tx.fetchval("person_suspended", person=person):
        raise suspended()


async def suspend(db: Database, person: str, reason: str, by: str, now: datetime) -> asyncpg.Record:
    row = await db.fetchrow("suspend_person", person=person, reason=reason, by=by, now=now)
    assert row is not None
    return row


async def lift(db: Database, person: str) -> None:
    await db.execute("lift_suspension", person=person)


async def suspensions(db: Database) -> list[asyncpg.Record]:
    return await db.fetch("suspensions")
