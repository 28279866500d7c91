"""Random festival activity written through the real domain functions, and the bureau's
numbers computed independently in Python from the raw rows, to check the jobs against."""

from __future__ import annotations

import contextlib
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from service.db import Database
from service.domain import redemptions, server_keys
from service.domain.audit import Actor
from service.domain.batches import create_batch
from service.domain.claims import claim_many
from service.domain.context import Context
from service.domain.merchants import create_merchant
from service.errors import DomainError
from service.timefmt import business_day
from service.views.redemptions import redemption_text
from service.vocabulary import CATEGORIES
from tests.support.factories import merchant_body

TZ = ZoneInfo("Asia/Shanghai")
DAY0 = date(2020, 5, 1)


def at(day: int, second: int) -> datetime:
    return datetime.combine(DAY0 + timedelta(days=day), time(), TZ) + timedelta(seconds=second)


@dataclass(frozen=True)
class Op:
    kind: str  # claim | redeem | reverse
    day: int
    second: int
    resident: int
    batch: int
    merchant: int
    extra_fen: int


@dataclass
class World:
    db: Database
    qr_key: bytes
    batch_ids: list[int]
    merchants: dict[str, list[int]]


async def build(db: Database, batches: list[tuple[int, int, int]], days: int) -> World:
    """One batch per category: (quantity, per-resident limit, valid days); two merchants each."""
    merchants: dict[str, list[int]] = {}
    for category in CATEGORIES:
        merchants[category] = []
        for _ in range(2):
            row, _ = await create_merchant(
                Context(db=db, actor=Actor("scenario"), now=at(0, 0), tz=TZ),
                data=merchant_body(category=category),
            )
            merchants[category].append(row["id"])
    batch_ids = []
    for category, (quantity, limit, valid_days) in zip(CATEGORIES, batches, strict=True):
        row = await create_batch(
            Context(db=db, actor=Actor("scenario"), now=at(0, 0), tz=TZ),
            data={
                "category": category,
                "title": f"{category} 满100减20",
                "face_value_fen": 2000,
                "min_spend_fen": 10000,
                "quantity": quantity,
                "per_resident_limit": limit,
                "claim_starts_at": at(0, 0),
                "claim_ends_at": at(days, 0),
                "valid_days": valid_days,
                "valid_until": None,
                "merchant_ids": [],
            },
        )
        batch_ids.append(row["id"])
    keys = await server_keys.load(db)
    qr_key = keys["qr_signing"]
    return World(db, qr_key, batch_ids, merchants)


async def play(world: World, ops: list[Op]) -> None:
    ordered = sorted(enumerate(ops), key=lambda p: (p[1].day, p[1].second, p[0]))
    for _, op in ordered:
        now = at(op.day, op.second)
        batch_id = world.batch_ids[op.batch]
        category = CATEGORIES[op.batch]
        merchant_id = world.merchants[category][op.merchant]
        if op.kind == "claim":
            await claim_many(world.db, batch_id, requests=[f"resident-{op.resident}"], now=now)
        elif op.kind == "redeem":
            async with world.db.connection() as conn:
                codes = await conn.raw.fetch(
                    "SELECT v.code FROM vouchers v JOIN residents r ON r.id = v.resident_id"
                    " WHERE r.sub = $1 AND v.batch_id = $2 ORDER BY v.id",
                    f"resident-{op.resident}",
                    batch_id,
                )
            for row in codes[:1] if op.extra_fen % 2 else codes[-1:]:
                await redemptions.redeem(
                    world.db,
                    world.qr_key,
                    merchant_id=merchant_id,
                    key=uuid.uuid4().hex,
                    value=row["code"],
                    order_amount_fen=10000 + op.extra_fen - 500,
                    order_ref="pos",
                    now=now,
                    tz=TZ,
                    render=lambda redemption: redemption_text(redemption, TZ),
                )
        else:
            async with world.db.connection() as conn:
                last = await conn.raw.fetchval(
                    "SELECT max(id) FROM redemptions WHERE merchant_id = $1 AND status = 'completed'",
                    merchant_id,
                )
            if last is not None:
                # Refused when the redemption's business day has passed: that is the rule.
                with contextlib.suppress(DomainError):
                    await redemptions.reverse(
                        world.db, merchant_id, redemption_id=last, reason="refund", now=now, tz=TZ
                    )


def _ratio(a: int, b: int) -> float | None:
    return None if not b else round(a / b, 4)


async def expected_daily(db: Database, days: list[date]) -> dict[tuple[str, str], dict[str, Any]]:
    """Every field of every daily row, from the raw rows alone."""
    async with db.connection() as conn:
        vouchers = await conn.raw.fetch(
            "SELECT v.id, v.claimed_at, v.expires_at, v.status, b.category FROM vouchers v"
            " JOIN batches b ON b.id = v.batch_id"
        )
        reds = await conn.raw.fetch(
            "SELECT r.*, v.resident_id FROM redemptions r JOIN vouchers v ON v.id = r.voucher_id"
        )
        baselines = {
            (r["date"], r["category"]): r["sales_fen"]
            for r in await conn.raw.fetch("SELECT * FROM baselines")
        }
    # The instant a voucher expired: its expiry, or a reversal that came after it.
    late_reversal: dict[int, datetime] = {}
    for r in reds:
        if r["status"] == "reversed":
            v_exp = next(v["expires_at"] for v in vouchers if v["id"] == r["voucher_id"])
            if r["reversed_at"] >= v_exp:
                late_reversal[r["voucher_id"]] = max(
                    r["reversed_at"], late_reversal.get(r["voucher_id"], r["reversed_at"])
                )
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    cumulative: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for day in sorted(days):
        for category in CATEGORIES:
            claimed = [
                v
                for v in vouchers
                if v["category"] == category and business_day(v["claimed_at"], TZ) == day
            ]
            expired = [
                v
                for v in vouchers
                if v["category"] == category
                and v["status"] == "expired"
                and business_day(late_reversal.get(v["id"], v["expires_at"]), TZ) == day
            ]
            done = [
                r
                for r in reds
                if r["category"] == category
                and r["business_date"] == day
                and r["status"] == "completed"
            ]
            reversed_ = [
                r
                for r in reds
                if r["category"] == category
                and r["business_date"] == day
                and r["status"] == "reversed"
            ]
            subsidy = sum(r["discount_fen"] for r in done)
            sales = sum(r["order_amount_fen"] for r in done)
            cumulative[category][0] += len(done)
            cumulative[category][1] += len(claimed)
            baseline = baselines.get((day, category))
            rows[(day.isoformat(), category)] = {
                "date": day.isoformat(),
                "category": category,
                "vouchers_claimed": len(claimed),
                "vouchers_redeemed": len(done),
                "vouchers_expired": len(expired),
                "redemptions_reversed": len(reversed_),
                "subsidy_fen": subsidy,
                "sales_fen": sales,
                "leverage": _ratio(sales, subsidy),
                "redemption_rate": _ratio(*cumulative[category]),
                "unique_residents": len({r["resident_id"] for r in done}),
                "active_merchants": len({r["merchant_id"] for r in done}),
                "baseline_sales_fen": baseline,
                "recovery_index": _ratio(sales, baseline) if baseline is not None else None,
            }
    return rows


async def expected_merchants(db: Database) -> dict[tuple[str, int], dict[str, Any]]:
    async with db.connection() as conn:
        reds = await conn.raw.fetch(
            "SELECT r.*, v.resident_id FROM redemptions r JOIN vouchers v ON v.id = r.voucher_id"
        )
    grouped: dict[tuple[str, int], list[Any]] = defaultdict(list)
    for r in reds:
        grouped[(r["business_date"].isoformat(), r["merchant_id"])].append(r)
    out = {}
    for key, rs in grouped.items():
        done = [r for r in rs if r["status"] == "completed"]
        out[key] = {
            "vouchers_redeemed": len(done),
            "redemptions_reversed": len(rs) - len(done),
            "subsidy_fen": sum(r["discount_fen"] for r in done),
            "sales_fen": sum(r["order_amount_fen"] for r in done),
            "unique_residents": len({r["resident_id"] for r in done}),
        }
    return out


async def assert_daily_rows_match_raw_rows(db: Database, days: list[date]) -> None:
    """The rollup's rows, as /stats/daily shows them, equal an independent computation from
    the raw rows (computed_at aside)."""
    from service.domain import stats
    from service.schemas.dump import dump
    from service.schemas.stats import DailyRow
    from service.views import stats as views

    got = {
        (r["date"].isoformat(), r["category"]): dump(DailyRow(), views.daily_row(r), TZ)
        for r in await stats.daily_rows(db, days[0], to_day=days[-1], category=None)
    }
    want = await expected_daily(db, days)
    assert set(got) == set(want)
    for key, row in want.items():
        assert got[key]["computed_at"]
        assert {k: v for k, v in got[key].items() if k != "computed_at"} == row, key


async def assert_every_fen_settled(db: Database) -> None:
    """Every fen owed for completed redemptions is on exactly one settlement line."""
    owed = await db.pool.fetchval(
        "SELECT coalesce(sum(discount_fen), 0) FROM redemptions WHERE status = 'completed'"
    )
    settled = await db.pool.fetchval(
        "SELECT coalesce(sum(subsidy_fen + adjustments_fen), 0) FROM settlement_lines"
    )
    assert settled == owed
