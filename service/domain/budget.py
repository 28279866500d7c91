"""The bureau's budget per category: committed (vouchers out there and stock still to be
claimed or drawn), spent (discounts paid), and what is left. Creating or growing a batch, and
recycling into one, never commit past the budget: such edits of a category take turns on its
budget row, so two of them cannot both fit the same room. A category without a budget has no
limit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from service.db import Conn, Database
from service.domain import audit
from service.domain.context import Context
from service.errors import DomainError, ErrorCode


async def report(db: Database, now: datetime) -> list[asyncpg.Record]:
    return await db.fetch("budget_usage", now=now, category=None)


async def reserve(tx: Conn, category: str, *, extra_fen: int, now: datetime) -> None:
    """Refuse (over_budget) if committing `extra_fen` more to `category` would pass its
    budget. Holds the category's budget lock until the transaction ends."""
    if extra_fen <= 0 or await tx.fetchrow("lock_budget", category=category) is None:
        return
    usage = await tx.fetchrow("budget_usage", now=now, category=category)
    assert usage is not None
    available = usage["budget_fen"] - usage["committed_fen"] - usage["spent_fen"]
    if extra_fen > available:
        raise DomainError(
            ErrorCode.OVER_BUDGET,
            f"this would commit {extra_fen} fen of {category}'s budget, {available} fen are left",
            {"category": category, "needed_fen": extra_fen, "available_fen": available},
        )


async def set_budget(
    ctx: Context,
    category: str,
    *,
    budget_fen: int,
) -> dict[str, Any]:
    """A category's budget; never below what is already committed and spent."""
    async with ctx.db.transaction() as tx:
        await tx.execute("ensure_budget_row", category=category, now=ctx.now)
        await tx.fetchrow("lock_budget", category=category)
        usage = await tx.fetchrow("budget_usage", now=ctx.now, category=category)
        assert usage is not None
        used = usage["committed_fen"] + usage["spent_fen"]
        if budget_fen < used:
            raise DomainError(
                ErrorCode.OVER_BUDGET,
                f"{category} has {used} fen committed and spent already",
                {
                    "category": category,
                    "committed_fen": usage["committed_fen"],
                    "spent_fen": usage["spent_fen"],
                },
            )
        await tx.execute("set_budget", category=category, budget_fen=budget_fen, now=ctx.now)
        row = await tx.fetchrow("budget_usage", now=ctx.now, category=category)
        assert row is not None
        await audit.append(
            tx,
            actor=ctx.actor,
            action="budget.set",
            target=f"budget/{category}",
            before=audit.snapshot(usage),
            after=audit.snapshot(row),
            now=ctx.now,
        )
        return dict(row)
