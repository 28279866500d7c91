"""Persons behind resident accounts (API.md, "Identity"), and the bureau's suspensions of
them: a suspended person's accounts can neither claim nor enter a lottery."""

from __future__ import annotations

from collections import OrderedDict

import asyncpg

from service.db import Conn, Database
from service.domain import audit
from service.domain.context import Context
from service.errors import DomainError, ErrorCode


def bound_to(bound: str | None, token_person: str) -> str | None:
    """The person a request counts for, given the person its account is bound to (None: not
    bound yet) and the one its token names ('p:' + pid, or 'r:' + sub without a pid): the
    bound person, whom a token without `pid` stands for too; None when the token names
    another person (API.md, "Input rules": 401)."""
    if bound is None:
        return token_person
    if token_person.startswith("p:") and token_person != bound:
        return None
    return bound


async def bind(tx: Conn, sub: str, *, token_person: str) -> tuple[int, str]:
    """The account's resident id (created on first use) and the person a request of it counts
    for, binding the account to the token's person if it was not bound yet."""
    for _ in range(3):
        row = await tx.fetchrow("bind_resident", sub=sub, person=token_person)
        if row is not None:
            person = bound_to(row["person"], token_person)
            if person is None:
                raise another_person()
            return row["id"], person
    raise RuntimeError("the resident could not be resolved")


class Bindings:
    """Each process's memory of the persons accounts are bound to, so checking a token against
    its account's binding costs a query only the first time. A binding never changes once
    made (a trigger refuses it), so what is remembered is never stale."""

    def __init__(self, size: int = 100_000) -> None:
        self.size = size
        self._bound: OrderedDict[str, str] = OrderedDict()

    async def person(self, db: Database, sub: str, token_person: str) -> str:
        """The person a request of the account counts for (bound_to; binds nothing): 401 when
        the token names another person than its account is bound to."""
        bound = self._bound.get(sub)
        if bound is None:
            bound = await db.fetchval("resident_person", sub=sub)
            if bound is not None:  # not bound yet: its first claim or entry binds it
                self._bound[sub] = bound
                if len(self._bound) > self.size:
                    self._bound.popitem(last=False)
        person = bound_to(bound, token_person)
        if person is None:
            raise another_person()
        return person


def another_person() -> DomainError:
    return DomainError(
        ErrorCode.UNAUTHORIZED, "this account is bound to another person than the token names"
    )


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
    ctx: Context,
    person: str,
    *,
    reason: str,
) -> asyncpg.Record:
    async with ctx.db.transaction() as tx:
        before = await tx.fetchrow("person_suspension", person=person)
        row = await tx.fetchrow(
            "suspend_person", person=person, reason=reason, by=ctx.actor.name, now=ctx.now
        )
        assert row is not None
        await audit.append(
            tx,
            actor=ctx.actor,
            action="person.suspend",
            target=f"persons/{person}",
            before=audit.snapshot(before),
            after=audit.snapshot(row),
            now=ctx.now,
        )
    return row


async def lift(
    ctx: Context,
    person: str,
) -> None:
    async with ctx.db.transaction() as tx:
        before = await tx.fetchrow("lift_suspension", person=person)
        if before is not None:
            await audit.append(
                tx,
                actor=ctx.actor,
                action="person.lift",
                target=f"persons/{person}",
                before=audit.snapshot(before),
                after=None,
                now=ctx.now,
            )


async def suspensions(db: Database) -> list[asyncpg.Record]:
    return await db.fetch("suspensions")
