"""The demo's batches and budgets: May's daily first-come batches and the auto lottery rounds,
the live batches a newcomer can claim from, and each category's budget."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from service.db import Database
from service.demo import cash_out
from service.demo.festival import (
    BUDGET_HEADROOM,
    DAYS,
    DEMO,
    FIRST_COME,
    FIRST_DAY,
    LOTTERY_QUANTITY,
    LOTTERY_ROUNDS,
    OFFERS,
    DemoState,
    busyness,
)
from service.demo.places import AUTO_DEALERS_IN_FESTIVAL
from service.domain import budget
from service.domain.batches import create_batch
from service.domain.context import Context


async def create(demo: DemoState) -> None:
    dealers = demo.merchants["auto"][:AUTO_DEALERS_IN_FESTIVAL]
    demo.merchants["auto"] = dealers
    demo.merchant_weights["auto"] = demo.merchant_weights["auto"][: len(dealers)]
    prepared = demo.at(FIRST_DAY - timedelta(days=3), 15 * 3600)
    offer = OFFERS["auto"]
    for round_ in LOTTERY_ROUNDS:
        row = await create_batch(
            Context(db=demo.db, actor=DEMO, now=prepared, tz=demo.tz),
            data={
                "category": "auto",
                "title": f"{offer.title}（第{'一二三四'[round_.number - 1]}期摇号）",
                "face_value_fen": offer.face_value_fen,
                "min_spend_fen": offer.min_spend_fen,
                # Enough at small scales that some go unused (and are recycled).
                "quantity": max(10, round(LOTTERY_QUANTITY * demo.scale)),
                "per_resident_limit": 1,
                "claim_starts_at": demo.at(round_.opens, 10 * 3600),
                "claim_ends_at": demo.at(round_.closes, 22 * 3600),
                "mode": "lottery",
                "draw_at": demo.at(round_.draw, 10 * 3600),
                "valid_days": 7,
                "valid_until": None,
                "merchant_ids": dealers,
            },
        )
        demo.batches[(round_.draw, "auto")] = row["id"]
    for n in range(DAYS):
        day = FIRST_DAY + timedelta(days=n)
        for category in FIRST_COME:
            offer = OFFERS[category]
            base = offer.holiday_quantity if busyness(day) == "holiday" else offer.weekday_quantity
            if busyness(day) == "weekend":
                base = int(base * 1.2)
            row = await create_batch(
                Context(db=demo.db, actor=DEMO, now=prepared, tz=demo.tz),
                data={
                    "category": category,
                    "title": f"{offer.title}（{day.month}月{day.day}日）",
                    "face_value_fen": offer.face_value_fen,
                    "min_spend_fen": offer.min_spend_fen,
                    "quantity": max(1, round(base * demo.scale))
                    + cash_out.extra_stock(day, category),
                    "per_resident_limit": 1,
                    "claim_starts_at": demo.at(day, 10 * 3600),
                    "claim_ends_at": demo.at(day, 22 * 3600),
                    "valid_days": 7,
                    "valid_until": None,
                    "merchant_ids": [],
                },
            )
            demo.batches[(day, category)] = row["id"]


async def live_batches(db: Database, now: datetime) -> dict[str, int]:
    """Batches open now, so the pages and the printed commands have something to claim (and
    an auto lottery to enter, drawn by the job a day later)."""
    ids = {}
    windows = [(now - timedelta(minutes=1), now + timedelta(days=30))] * 3
    windows.append((now - timedelta(minutes=1), now + timedelta(days=1)))
    windows.append((now + timedelta(days=2), now + timedelta(days=32)))  # and one to count down to
    for (name, category, offer), (starts, ends) in zip(
        [*((c, c, o) for c, o in OFFERS.items()), ("upcoming", "dining", OFFERS["dining"])],
        windows,
        strict=True,
    ):
        lottery_batch = {"mode": "lottery", "draw_at": ends} if category == "auto" else {}
        row = await create_batch(
            Context(db=db, actor=DEMO, now=now, tz=now.tzinfo),
            data={
                "category": category,
                "title": f"{offer.title}（{'摇号' if lottery_batch else ''}体验批次）",
                "face_value_fen": offer.face_value_fen,
                "min_spend_fen": offer.min_spend_fen,
                "quantity": 2000 if category != "auto" else 50,
                "per_resident_limit": 5 if category != "auto" else 1,
                "claim_starts_at": starts,
                "claim_ends_at": ends,
                "valid_days": 7,
                "valid_until": None,
                "merchant_ids": [],
                **lottery_batch,
            },
        )
        ids[name] = row["id"]
    return ids


async def set_budgets(db: Database, now: datetime) -> None:
    """Each category's budget: every voucher of its batches (May's and the live ones) at
    face value, with headroom, in round sums (whole 10,000 yuan), so the bureau's page shows
    what is left."""
    for row in await db.fetch("demo_planned_face_value"):
        fen = math.ceil(row["fen"] * BUDGET_HEADROOM / 1_000_000) * 1_000_000
        await budget.set_budget(
            Context(db=db, actor=DEMO, now=now, tz=now.tzinfo),
            category=row["category"],
            budget_fen=fen,
        )
