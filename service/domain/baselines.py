"""Baselines: the comparable pre-festival sales per (date, category), uploaded as CSV."""

from __future__ import annotations

from datetime import date

from service.domain import audit, csvin
from service.domain.context import Context
from service.vocabulary import CATEGORIES, FIRST_DAY, LAST_DAY, MAX_FEN

HEADER = ["date", "category", "sales_fen"]
MAX_ROWS = 20_000
# A day's sales across a category can exceed one order's cap by far.
MAX_SALES_FEN = MAX_FEN * 1000


def parse(text: str) -> list[tuple[date, str, int]]:
    """The rows of a baseline CSV, or a DomainError naming every bad line (1 = the header)."""
    upload = csvin.read(text, [HEADER])
    errors = upload.errors
    rows: list[tuple[date, str, int]] = []
    seen: dict[tuple[date, str], int] = {}
    for number, (raw_date, category, raw_sales) in upload.lines:
        problems = []
        day = csvin.day(raw_date)
        if day is None:
            problems.append(f"date {raw_date!r} is not a YYYY-MM-DD date.")
        elif not FIRST_DAY <= day <= LAST_DAY:
            problems.append(f"date {raw_date} is not between {FIRST_DAY} and {LAST_DAY}.")
            day = None
        if category not in CATEGORIES:
            problems.append(f"category {category!r} is not one of {', '.join(CATEGORIES)}.")
        sales = None
        if not csvin.DIGITS.fullmatch(raw_sales) or int(raw_sales) > MAX_SALES_FEN:
            problems.append(f"sales_fen {raw_sales!r} is not a whole number of fen.")
        else:
            sales = int(raw_sales)
        if day is not None and category in CATEGORIES:
            if (day, category) in seen:
                problems.append(f"repeats line {seen[(day, category)]} ({raw_date}, {category}).")
            seen[(day, category)] = number
        if problems:
            errors[str(number)] = problems
        elif day is not None and sales is not None:
            rows.append((day, category, sales))
    upload.refuse_if_bad(len(rows), MAX_ROWS)
    return rows


async def store(
    ctx: Context,
    rows: list[tuple[date, str, int]],
) -> int:
    keys = {"days": [r[0] for r in rows], "categories": [r[1] for r in rows]}
    async with ctx.db.transaction() as tx:
        before = await tx.fetchrow("baselines_summary", **keys)
        await tx.execute("upsert_baselines", **keys, sales=[r[2] for r in rows], now=ctx.now)
        after = await tx.fetchrow("baselines_summary", **keys)
        await audit.append(
            tx,
            actor=ctx.actor,
            action="baselines.upload",
            target="baselines",
            before=audit.snapshot(before),
            after=audit.snapshot(after, categories=sorted({r[1] for r in rows})),
            now=ctx.now,
        )
    return len(rows)
