"""Persons behind resident accounts (API.md, "Identity"), and the bureau's suspensions of
them: a suspended person's accounts can neither claim nor enter a lottery."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from service.db import Conn, Database
from service.domain import audit
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


async def suspend(
    db: Database, person: str, reason: str, actor: audit.Actor, now: datetime
) -> asyncpg.Record:
    async with db.transaction() as tx:
        before = await tx.fetchrow("person_suspension", person=person)
        row = await tx.fetchrow(
            "suspend_person", person=person, reason=reason, by=actor.name, now=now
        )
        assert row is not None
        await audit.append(
            tx,
            actor,
            "person.suspend",
            f"persons/{person}",
            audit.snapshot(before),
            audit.snapshot(row),
            now,
        )
    return row


async def lift(db: Database, person: str, actor: audit.Actor, now: datetime) -> None:
    async with db.transaction() as tx:
        before = await tx.fetchrow("lift_suspension", person=person)
        if before is not None:
            await audit.append(
                tx, actor, "person.lift", f"persons/{person}", audit.snapshot(before), None, now
            )


async def suspensions(db: Database) -> list[asyncpg.Record]:
    return await db.fetch("suspensions")
