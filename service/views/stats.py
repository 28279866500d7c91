"""The bureau's numbers as API.md defines them: rows of the tables the jobs maintain, with
their ratios, and the festival-to-date totals.

Ratios have no value without a denominator: they are None (null), never 0 and never an error.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from service.schemas.dump import Computed


def ratio(numerator: int | None, denominator: int | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 4)


def daily_row(row: asyncpg.Record) -> Computed:
    return Computed(
        row,
        leverage=ratio(row["sales_fen"], row["subsidy_fen"]),
        redemption_rate=ratio(int(row["cumulative_redeemed"]), int(row["cumulative_claimed"])),
        recovery_index=ratio(row["sales_fen"], row["baseline_sales_fen"]),
    )


def merchant_row(row: asyncpg.Record) -> Computed:
    return Computed(row, leverage=ratio(row["sales_fen"], row["subsidy_fen"]))


def _totals(parts: list[dict[str, int | None]]) -> dict[str, Any]:
    keys = (
        "vouchers_claimed",
        "vouchers_redeemed",
        "vouchers_expired",
        "redemptions_reversed",
        "subsidy_fen",
        "sales_fen",
        "sales_with_baseline_fen",
        "vouchers_recycled",
    )
    total: dict[str, Any] = {k: sum(int(p[k] or 0) for p in parts) for k in keys}
    baselines = [p["baseline_sales_fen"] for p in parts if p["baseline_sales_fen"] is not None]
    total["baseline_sales_fen"] = sum(baselines) if baselines else None
    return total


def _with_ratios(part: dict[str, Any]) -> dict[str, Any]:
    part["leverage"] = ratio(part["sales_fen"], part["subsidy_fen"])
    part["redemption_rate"] = ratio(part["vouchers_redeemed"], part["vouchers_claimed"])
    # Recovery compares sales with the baseline over the days that have one.
    part["recovery_index"] = ratio(part["sales_with_baseline_fen"], part["baseline_sales_fen"])
    return part


def summary(rows: list[asyncpg.Record], recovery: list[dict[str, Any]]) -> dict[str, Any]:
    """The festival to date (a `Summary`): totals and ratios per category and overall."""
    categories = []
    for row in rows:
        part = _with_ratios(_totals([dict(row)]))
        part["category"] = row["category"]
        categories.append(part)
    overall = _with_ratios(_totals([dict(r) for r in rows]))
    dates = [r["first_date"] for r in rows if r["first_date"]]
    last_dates = [r["last_date"] for r in rows if r["last_date"]]
    computed = [r["computed_at"] for r in rows if r["computed_at"]]
    return {
        "from_": min(dates) if dates else None,
        "to": max(last_dates) if last_dates else None,
        "computed_at": max(computed) if computed else None,
        "categories": categories,
        "overall": overall,
        "recovery": recovery,
    }
