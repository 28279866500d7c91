"""The bureau's numbers as API.md defines them: rows of the tables the jobs maintain, with
their ratios, and the festival-to-date totals.

Ratios have no value without a denominator: they are None (null), never 0 and never an error.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from service.timefmt import iso


def ratio(numerator: int | None, denominator: int | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 4)


def daily_row(row: asyncpg.Record, tz: Any) -> dict[str, Any]:
    baseline = row["baseline_sales_fen"]
    return {
        "date": row["date"].isoformat(),
        "category": row["category"],
        "vouchers_claimed": row["vouchers_claimed"],
        "vouchers_redeemed": row["vouchers_redeemed"],
        "vouchers_expired": row["vouchers_expired"],
        "redemptions_reversed": row["redemptions_reversed"],
        "subsidy_fen": row["subsidy_fen"],
        "sales_fen": row["sales_fen"],
        "leverage": ratio(row["sales_fen"], row["subsidy_fen"]),
        "redemption_rate": ratio(int(row["cumulative_redeemed"]), int(row["cumulative_claimed"])),
        "unique_residents": row["unique_residents"],
        "active_merchants": row["active_merchants"],
        "baseline_sales_fen": baseline,
        "recovery_index": ratio(row["sales_fen"], baseline),
        "computed_at": iso(row["computed_at"], tz),
    }


def merchant_row(row: asyncpg.Record, tz: Any) -> dict[str, Any]:
    return {
        "date": row["date"].isoformat(),
        "merchant_id": row["merchant_id"],
        "merchant_name": row["merchant_name"],
        "category": row["category"],
        "vouchers_redeemed": row["vouchers_redeemed"],
        "redemptions_reversed": row["redemptions_reversed"],
        "subsidy_fen": row["subsidy_fen"],
        "sales_fen": row["sales_fen"],
        "leverage": ratio(row["sales_fen"], row["subsidy_fen"]),
        "unique_residents": row["unique_residents"],
        "computed_at": iso(row["computed_at"], tz),
    }


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


def summary(rows: list[asyncpg.Record], tz: Any) -> dict[str, Any]:
    categories = []
    for row in rows:
        part = _totals([dict(row)])
        part = {"category": row["category"], **_with_ratios(part)}
        categories.append(part)
    overall = _with_ratios(_totals([dict(r) for r in rows]))
    dates = [r["first_date"] for r in rows if r["first_date"]]
    last_dates = [r["last_date"] for r in rows if r["last_date"]]
    computed = [r["computed_at"] for r in rows if r["computed_at"]]
    return {
        "from": min(dates).isoformat() if dates else None,
        "to": max(last_dates).isoformat() if last_dates else None,
        "computed_at": iso(max(computed), tz) if computed else None,
        "categories": categories,
        "overall": overall,
    }
