"""What the festival did for the district's spending (API.md, "Turnover and recovery").

For each day and category: the festival merchants' takings ÷ their own takings on the
baseline day (the same ISO week and weekday of the baseline year: 2020-05-01, a Friday, with
2019-05-03), the same for the comparison merchants outside the festival, and their
difference: a difference-in-differences estimate of the recovery the festival added. Only
merchants with takings on both days count (`merchants_reporting`); where a group has none,
its figures are null. The 95% interval resamples merchants (each group on its own, 2,000
times, vectorised with numpy) and takes the 2.5th and 97.5th percentiles of the difference.
Over a range, each merchant's paired days are summed first, so the resampled unit stays the
merchant.
"""

from __future__ import annotations

import asyncio
import json
import zlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

import asyncpg
import numpy as np

from service.db import Conn, Database
from service.domain import batches
from service.vocabulary import CATEGORIES, MAX_RANGE_DAYS

RESAMPLES = 2000


def baseline_day(day: date, year: int) -> date | None:
    """The same ISO week and weekday in `year` (None if that year has no such week 53)."""
    iso = day.isocalendar()
    try:
        return date.fromisocalendar(year, iso.week, iso.weekday)
    except ValueError:
        return None


@dataclass
class Group:
    """Paired takings of one group's merchants: sales and baseline, one entry per merchant."""

    sales: np.ndarray
    baseline: np.ndarray

    @property
    def index(self) -> float | None:
        total = float(self.baseline.sum())
        return float(self.sales.sum()) / total if total > 0 else None

    def figures(self, prefix: str) -> dict[str, Any]:
        """Its sums and index as `prefix`_…; null for a group no merchant reported to."""
        reported = len(self.sales) > 0
        index = self.index
        return {
            f"{prefix}_sales_fen": int(self.sales.sum()) if reported else None,
            f"{prefix}_baseline_fen": int(self.baseline.sum()) if reported else None,
            f"{prefix}_index": None if index is None else round(index, 4),
        }


def _ratios(group: Group, picks: np.ndarray) -> np.ndarray:
    sales = group.sales[picks].sum(axis=1)
    baseline = group.baseline[picks].sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(baseline > 0, sales / np.where(baseline > 0, baseline, 1), np.nan)


def estimate(participants: Group, comparison: Group, *, seed: int) -> dict[str, Any]:
    """The figures of one (day or range, category); null where data are missing."""
    p, c = participants.index, comparison.index
    out: dict[str, Any] = {
        **participants.figures("participants"),
        **comparison.figures("comparison"),
        "incremental_index": None,
        "incremental_sales_fen": None,
        "ci_low": None,
        "ci_high": None,
        "merchants_reporting": len(participants.sales),
        "comparison_reporting": len(comparison.sales),
    }
    if p is None or c is None:
        return out
    out["incremental_index"] = round(p - c, 4)
    out["incremental_sales_fen"] = round((p - c) * float(participants.baseline.sum()))
    if len(participants.sales) >= 2 and len(comparison.sales) >= 2:
        rng = np.random.default_rng(seed)
        pick_p = rng.integers(0, len(participants.sales), (RESAMPLES, len(participants.sales)))
        pick_c = rng.integers(0, len(comparison.sales), (RESAMPLES, len(comparison.sales)))
        diff = _ratios(participants, pick_p) - _ratios(comparison, pick_c)
        diff = diff[~np.isnan(diff)]
        if len(diff):
            low, high = np.percentile(diff, [2.5, 97.5])
            out["ci_low"], out["ci_high"] = round(float(low), 4), round(float(high), 4)
    return out


@dataclass(frozen=True)
class Recovery:
    items: list[dict[str, Any]]
    totals: list[dict[str, Any]]


def _seed(*parts: object) -> int:
    # The same data give the same interval on every call (and every machine).
    return zlib.crc32("|".join(map(str, parts)).encode())


async def compute(
    db: Database | Conn,
    first: date,
    *,
    last: date,
    category: str | None,
    baseline_year: int,
    only: set[str] | None = None,
    item_days: set[date] | None = None,
) -> Recovery:
    """Items per (day, category) and totals per category over first..last. `only`: the
    credit codes to count (a test's subsets of merchants); None counts everyone. `item_days`:
    the days whose items are wanted (the nightly job wants one); None gives every day."""
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    pairs = {d: baseline_day(d, baseline_year) for d in days}
    wanted = sorted({*days, *(b for b in pairs.values() if b is not None)})
    rows = await db.fetch("recovery_rows", days=wanted, category=category)
    # The bootstraps take a tenth of a second and more of CPU: off the event loop, so the
    # requests this process serves meanwhile (a flash crowd's claims) are not held up.
    estimates = partial(
        _estimates, rows, days, pairs=pairs, category=category, only=only, item_days=item_days
    )
    return await asyncio.to_thread(estimates)


def _estimates(
    rows: list[asyncpg.Record],
    days: list[date],
    *,
    pairs: dict[date, date | None],
    category: str | None,
    only: set[str] | None,
    item_days: set[date] | None,
) -> Recovery:
    first, last = days[0], days[-1]
    takings: dict[tuple[str, date], int] = {}
    who: dict[str, tuple[str, bool]] = {}
    for r in rows:
        if only is not None and r["credit_code"] not in only:
            continue
        takings[(r["credit_code"], r["date"])] = r["sales_fen"]
        who[r["credit_code"]] = (r["category"], r["participant"])
    categories = [category] if category else list(CATEGORIES)
    items = []
    # Per merchant over the range: its paired days summed.
    summed: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for day in days:
        base = pairs[day]
        groups: dict[tuple[str, bool], tuple[list[int], list[int]]] = defaultdict(lambda: ([], []))
        if base is not None:
            for code, (cat, participant) in who.items():
                sales, before = takings.get((code, day)), takings.get((code, base))
                if sales is None or before is None:
                    continue
                groups[(cat, participant)][0].append(sales)
                groups[(cat, participant)][1].append(before)
                summed[code][0] += sales
                summed[code][1] += before
        if item_days is not None and day not in item_days:
            continue
        for cat in categories:
            figures = estimate(
                _group(groups.get((cat, True))),
                _group(groups.get((cat, False))),
                seed=_seed(day, cat),
            )
            items.append({"date": day, "category": cat, **figures})
    totals = []
    for cat in categories:
        by_group: dict[bool, tuple[list[int], list[int]]] = {True: ([], []), False: ([], [])}
        for code, (sales, before) in summed.items():
            code_cat, participant = who[code]
            if code_cat == cat:
                by_group[participant][0].append(sales)
                by_group[participant][1].append(before)
        figures = estimate(
            _group(by_group[True]), _group(by_group[False]), seed=_seed(first, last, cat)
        )
        totals.append({"date": None, "category": cat, **figures})
    return Recovery(items, totals)


def _group(found: tuple[list[int], list[int]] | None) -> Group:
    sales, before = found or ([], [])
    return Group(np.array(sales, dtype=np.float64), np.array(before, dtype=np.float64))


async def store_totals(
    tx: Conn, totals: list[dict[str, Any]], *, span: dict[str, str], now: datetime
) -> None:
    """The festival to date per category, as /stats/summary reads it (stored_totals)."""
    await tx.execute(
        "store_recovery_totals",
        categories=[row["category"] for row in totals],
        figures=[
            json.dumps({**{k: v for k, v in row.items() if k not in ("date", "category")}, **span})
            for row in totals
        ],
        now=now,
    )


async def stored_totals(db: Database) -> list[dict[str, Any]]:
    """The festival to date per category, as the recovery job last computed it."""
    rows = await db.fetch("stored_recovery")
    return [
        {
            "date": None,
            "category": r["category"],
            **json.loads(r["figures"]),
            "computed_at": r["computed_at"],
        }
        for r in rows
    ]


async def span(
    db: Database | Conn, baseline_year: int, *, until: date | None = None
) -> tuple[date | None, date | None]:
    """The first and last days with takings outside the baseline year, up to `until`."""
    row = await db.fetchrow("turnover_span", baseline_year=baseline_year, until=until)
    assert row is not None
    return row["first"], row["last"]


async def default_range(
    db: Database | Conn,
    baseline_year: int,
    *,
    tz: Any,
    yesterday: date,
    given_from: date | None = None,
    given_to: date | None = None,
) -> tuple[date, date]:
    """The range a request leaves open (API.md): the festival's days with data up to
    yesterday, at most the last MAX_RANGE_DAYS, ending on the last day with data: a merchant
    reporting a day far from the festival (any day up to today) never stretches it nor moves
    it off the data (issue 25: a 日结 for today years after the festival moved it to a year of
    empty days), and a default never answers 400. What is given is kept; a bound left open
    stays within MAX_RANGE_DAYS of it."""
    if given_from is not None and given_to is not None:
        return given_from, given_to
    first, last = await span(db, baseline_year, until=yesterday)
    windows = await batches.activity_windows(db, tz)
    lows = [d for d in (first, min((w[0] for w in windows), default=None)) if d is not None]
    highs = [d for d in (last, max((w[1] for w in windows), default=None)) if d is not None]
    low, high = max(lows, default=None), min([*highs, yesterday])
    longest = timedelta(days=MAX_RANGE_DAYS - 1)
    if given_to is None:
        to = max(high, given_from) if given_from is not None else high
        if given_from is not None:
            to = min(to, given_from + longest)
    else:
        to = given_to
    start = given_from if given_from is not None else min(max(low or to, to - longest), to)
    return start, to
