"""Merchants' whole takings per day (日结): reported by a festival merchant, or imported by the
bureau for festival and comparison merchants (API.md, "Turnover and recovery")."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg

from service.db import Database
from service.domain import audit
from service.domain.context import Context
from service.errors import DomainError, ErrorCode
from service.vocabulary import MAX_DAY_FEN

ABSURD_FACTOR = 100  # a day more than 100 × the merchant's median day is a typo


def plausible_median(imported: Sequence[int], reported: Sequence[int]) -> float:
    """The day a merchant's takings are held against (0: none known): the median of what the
    bureau imported when there is any, else of the merchant's own reports. A merchant's own
    reports never widen the bound where the bureau's data exist: with them counted, each
    report 100 × the last would raise the median in turn."""
    known = imported or reported
    return statistics.median(known) if known else 0


async def report(
    db: Database,
    merchant_id: int,
    *,
    day: date,
    sales_fen: int,
    transactions: int | None,
    today: date,
    now: datetime,
    baseline_year: int,
) -> asyncpg.Record:
    """A merchant's own 日结 of a day after the baseline year; correctable until that day's
    settlement has gone to the bank. The baseline year's takings come from the bureau's
    import only: a merchant must not rewrite what its recovery is measured against."""
    if day.year <= baseline_year:
        raise DomainError(
            ErrorCode.INVALID_REQUEST,
            f"a merchant reports days after {baseline_year}; the baseline comes from the bureau",
            {"date": [f"Must be after {baseline_year}."]},
        )
    if day > today:
        raise DomainError(
            ErrorCode.INVALID_REQUEST,
            "a day's takings can be reported once the day has begun",
            {"date": ["Must not be in the future."]},
        )
    async with db.transaction() as tx:
        if await tx.fetchval("merchant_day_exported", merchant_id=merchant_id, day=day):
            raise DomainError(
                ErrorCode.CONFLICT,
                "this day's settlement has gone to the bank; its takings are final",
                {"date": day.isoformat()},
            )
        known = await tx.fetchrow("merchant_days_of", merchant_id=merchant_id)
        assert known is not None  # an aggregate: always one row
        median = plausible_median(known["imported"], known["reported"])
        if sales_fen > MAX_DAY_FEN or (median > 0 and sales_fen > ABSURD_FACTOR * median):
            raise DomainError(
                ErrorCode.IMPLAUSIBLE,
                "these takings are not plausible for this merchant; check the amount",
                {
                    "sales_fen": [
                        f"More than {ABSURD_FACTOR} × this merchant's median day"
                        f" ({int(median)} fen), or than any day of the district."
                    ]
                },
            )
        before = await tx.fetchrow("reported_turnover", merchant_id=merchant_id, day=day)
        row = await tx.fetchrow(
            "report_turnover",
            merchant_id=merchant_id,
            day=day,
            sales_fen=sales_fen,
            transactions=transactions,
            now=now,
        )
        assert row is not None
        await audit.append(
            tx,
            actor=audit.Actor(f"merchant:{merchant_id}"),
            action="turnover.report",
            target=f"turnover/{row['credit_code']}/{day.isoformat()}",
            before=audit.snapshot(before),
            after=audit.snapshot(row),
            now=now,
        )
    assert row is not None
    return row


async def of_merchant(
    db: Database, merchant_id: int, *, from_day: date, to_day: date
) -> list[asyncpg.Record]:
    return await db.fetch(
        "merchant_turnover", merchant_id=merchant_id, from_day=from_day, to_day=to_day
    )


@dataclass(frozen=True)
class Row:
    line: int
    day: date
    credit_code: str
    category: str
    sales_fen: int


async def store(
    ctx: Context,
    rows: list[Row],
) -> int:
    """All rows or none: a festival merchant's rows must carry its category, and no day may be
    more than 100 × the merchant's median day (this file's days counted too)."""
    codes = sorted({r.credit_code for r in rows})
    keys: dict[str, Any] = {
        "codes": [r.credit_code for r in rows],
        "days": [r.day for r in rows],
    }
    async with ctx.db.transaction() as tx:
        known = {
            r["credit_code"]: r["category"]
            for r in await tx.fetch("turnover_known_merchants", codes=codes)
        }
        stored = {r["credit_code"]: r for r in await tx.fetch("turnover_days_of", codes=codes)}
        filed: dict[str, list[int]] = defaultdict(list)
        for r in rows:
            if r.sales_fen > 0:
                filed[r.credit_code].append(r.sales_fen)
        medians = {
            code: plausible_median(
                [*(stored[code]["imported"] if code in stored else []), *filed[code]],
                stored[code]["reported"] if code in stored else [],
            )
            for code in codes
        }
        errors: dict[str, list[str]] = {}
        for r in rows:
            problems = []
            if r.credit_code in known and known[r.credit_code] != r.category:
                problems.append(
                    f"{r.credit_code} is a festival merchant of {known[r.credit_code]},"
                    f" not {r.category}."
                )
            median = medians.get(r.credit_code, 0)
            if median > 0 and r.sales_fen > ABSURD_FACTOR * median:
                problems.append(
                    f"sales_fen {r.sales_fen} is more than {ABSURD_FACTOR} × this merchant's"
                    f" median day ({int(median)})."
                )
            if problems:
                errors[str(r.line)] = problems
        if errors:
            raise DomainError(
                ErrorCode.INVALID_REQUEST,
                f"{len(errors)} line(s) are not valid; nothing was stored",
                {"lines": errors},
            )
        before = await tx.fetchrow("turnover_summary", **keys)
        await tx.execute(
            "import_turnover",
            **keys,
            categories=[r.category for r in rows],
            sales=[r.sales_fen for r in rows],
            now=ctx.now,
        )
        after = await tx.fetchrow("turnover_summary", **keys)
        await audit.append(
            tx,
            actor=ctx.actor,
            action="turnover.import",
            target="turnover",
            before=audit.snapshot(before),
            after=audit.snapshot(after, merchants=len(codes)),
            now=ctx.now,
        )
    return len(rows)
