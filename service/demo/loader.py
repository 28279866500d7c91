"""`festival demo`: the 春暖槐荫消费节 as it ran, 1–31 May 2020, written through the same domain
functions and SQL as the live system with the clock set to the festival's days, then the
jobs' backfill, so every stat and settlement line is in place.

Shopping, dining and culture vouchers are released daily, first come first served; the auto
category's go by lottery (摇号) in four weekly rounds drawn by the `lottery_draw` job, and
each round's vouchers that expired unused are recycled into the round two weeks later. The
bureau's budgets leave room for a second month at the same pace.

Deterministic for a seed (apart from voucher codes and api keys, which are random by design).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
import random
import secrets
import sys
import time as time_module
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from jobs.registry import BY_NAME
from jobs.runner import JobRunner
from service.clock import FixedClock
from service.credit_code import random_huaiyin_code
from service.db import Database, open_database
from service.demo import cash_out
from service.demo import turnover as demo_turnover
from service.demo.places import AUTO_DEALERS_IN_FESTIVAL, MERCHANTS
from service.domain import (
    baselines,
    budget,
    logins,
    lottery,
    payments,
    redemptions,
    risk,
    server_keys,
    turnover,
)
from service.domain.audit import Actor
from service.domain.batches import create_batch, recycle
from service.domain.claims import Claimed, claim_many
from service.domain.merchants import create_merchant
from service.errors import DomainError, ErrorCode
from service.progress import progress
from service.settings import Settings

FIRST_DAY = date(2020, 5, 1)
DAYS = 31
HOLIDAY = {date(2020, 5, d) for d in range(1, 6)}  # 劳动节, 1–5 May 2020
MAKE_UP_WORKDAY = date(2020, 5, 9)  # a Saturday worked in exchange for the holiday
RESIDENTS = 20_000
BUREAU_USER = "demo-bureau"
BASELINE_YEAR = 2019
# The demo writes as the bureau would, so its actions are on the audit trail too.
DEMO = Actor("demo")


@dataclass(frozen=True)
class Offer:
    title: str
    face_value_fen: int
    min_spend_fen: int
    weekday_quantity: int
    holiday_quantity: int
    redeem_rate: float
    # Order amounts above the threshold: min_spend × (1 + lognormal(mu, sigma)).
    mu: float
    sigma: float


OFFERS: dict[str, Offer] = {
    "shopping": Offer("购物券 满100减20", 2000, 10000, 420, 700, 0.78, -0.4, 0.7),
    "dining": Offer("餐饮券 满50减10", 1000, 5000, 500, 800, 0.82, -0.3, 0.6),
    "culture_tourism": Offer("文旅券 满100减30", 3000, 10000, 160, 300, 0.7, -0.2, 0.7),
    "auto": Offer("汽车消费券 满50000减2000", 200000, 5000000, 10, 18, 0.6, 0.3, 0.6),
}
FIRST_COME = ("shopping", "dining", "culture_tourism")


@dataclass(frozen=True)
class Round:
    """A lottery round of auto vouchers: registration from `opens` to `closes` (10:00 to
    22:00 each day), the draw at 10:00 on `draw`."""

    number: int
    opens: date
    closes: date
    draw: date


LOTTERY_ROUNDS = [
    Round(k + 1, date(2020, 5, 1 + 7 * k), date(2020, 5, 3 + 7 * k), date(2020, 5, 4 + 7 * k))
    for k in range(4)
]
LOTTERY_QUANTITY = 90  # vouchers per round, at scale 1
LOTTERY_ENTRANTS = 0.5  # of the residents, each round: tens of thousands of entries in all
RECYCLE_INTO = 2  # a round's expired vouchers go to the round this many later
# The bureau's budget per category: the month's vouchers at face value, times this.
BUDGET_HEADROOM = 2

# Of the days a voucher is valid, when it gets used (day of claim = 0).
USE_DAY_WEIGHTS = [0.28, 0.22, 0.15, 0.11, 0.09, 0.08, 0.07]
REVERSAL_RATE = 0.02
REUSE_AFTER_REVERSAL = 0.6


def busyness(day: date) -> str:
    if day in HOLIDAY:
        return "holiday"
    if day.weekday() >= 5 and day != MAKE_UP_WORKDAY:
        return "weekend"
    return "weekday"


@dataclass
class Event:
    at: datetime
    kind: str  # redeem | reverse
    merchant_id: int = 0
    amount_fen: int = 0


@dataclass
class Progress:
    claims: int = 0
    redemptions: int = 0
    reversals: int = 0
    refused: dict[str, int] = field(default_factory=lambda: defaultdict(int))


class DemoLoader:
    def __init__(
        self,
        db: Database,
        tz: Any,
        *,
        seed: int,
        scale: float,
        report: Callable[[int, int, str], None],
    ) -> None:
        self.db, self.tz, self.scale, self.report = db, tz, scale, report
        self.rng = random.Random(seed)
        # The takings draw from a generator of their own: the rest of the demo stays as it was.
        self.turnover_rng = random.Random(seed * 7919 + 1)
        self.merchants: dict[str, list[int]] = {}
        self.merchant_weights: dict[str, list[float]] = {}
        self.batches: dict[tuple[date, str], int] = {}
        self.plans: dict[date, dict[str, list[Event]]] = defaultdict(lambda: defaultdict(list))
        self.progress = Progress()
        self.qr_key = b""
        self.api_keys: dict[int, str] = {}
        self.planted: dict[str, int] = {}  # cash_out.PLANTED's kinds → merchant id
        self.bank_files = 0

    def at(self, day: date, seconds: float) -> datetime:
        return datetime.combine(day, time(), self.tz) + timedelta(seconds=seconds)

    async def load(self) -> Progress:
        keys = await server_keys.load(self.db)
        self.qr_key = keys["qr_signing"]
        await self._merchants()
        await self._turnover()
        await self._batches()
        residents = [f"demo-r{i:05d}" for i in range(max(10, int(RESIDENTS * self.scale)))]
        # The nightly jobs run as they would have: each day's rollup at 00:05 and its
        # settlement at 00:30 the next morning.
        clock = FixedClock(self.at(FIRST_DAY, 0))
        runner = JobRunner(self.db, clock, self.tz, baseline_year=BASELINE_YEAR)
        # Vouchers claimed at the end of May are used (or expire) into June.
        total = DAYS + len(USE_DAY_WEIGHTS) + 1
        for n in range(total):
            day = FIRST_DAY + timedelta(days=n)
            if n < DAYS:
                await self._mules(day)  # bots claim at the opening second
                await self._claims(day, residents)
                await self._lottery(day, residents, runner, clock)
            await self._redemptions(day)
            if n == DAYS - 1:
                await self._baselines()
            nightly = (("daily_rollup", 5), ("settlement", 30), ("risk_scan", 40), ("recovery", 50))
            for job, minute in nightly:
                clock.at = self.at(day + timedelta(days=1), minute * 60)
                for result in await runner.on_due(BY_NAME[job], clock.at):
                    if result.outcome != "succeeded":
                        raise RuntimeError(f"{job} for {result.period}: {result.outcome}")
            await self._bureau_morning(day)
            p = self.progress
            self.report(n + 1, total, f"{day}: {p.claims:,} vouchers, {p.redemptions:,} redeemed")
        return self.progress

    async def _merchants(self) -> None:
        for category, places in MERCHANTS.items():
            self.merchants[category] = []
            for name, street in places:
                body = self._merchant_body(name, category, street)
                row, api_key = await create_merchant(
                    self.db, body, DEMO, self.at(FIRST_DAY - timedelta(days=10), 9 * 3600)
                )
                self.merchants[category].append(row["id"])
                self.api_keys[row["id"]] = api_key
            # Bigger places see more customers.
            self.merchant_weights[category] = [
                1 / (i + 1) ** 0.7 for i in range(len(self.merchants[category]))
            ]
        for kind, (name, category, street, _) in cash_out.PLANTED.items():
            row, api_key = await create_merchant(
                self.db,
                self._merchant_body(name, category, street),
                DEMO,
                self.at(FIRST_DAY - timedelta(days=10), 9 * 3600),
            )
            self.planted[kind] = row["id"]
            self.api_keys[row["id"]] = api_key
            # Honest customers come too, as to any small shop.
            self.merchants[category].append(row["id"])
            self.merchant_weights[category].append(0.1)

    def _merchant_body(self, name: str, category: str, street: str) -> dict[str, Any]:
        return {
            "name": name,
            "category": category,
            "credit_code": random_huaiyin_code(self.rng),
            "district": "槐荫区",
            "address": f"济南市槐荫区{street}",
            "contact_phone": f"13{self.rng.randint(0, 9)}{self.rng.randint(0, 99999999):08d}",
            "account_name": name,
            "account_no": "62220" + "".join(str(self.rng.randint(0, 9)) for _ in range(14)),
        }

    async def _turnover(self) -> None:
        """2019 and 2020 takings of the festival merchants and of comparison merchants outside
        it, with a known effect planted (service/demo/turnover.py), imported as the bureau
        would from tax data."""
        festival: dict[str, list[str]] = defaultdict(list)
        for row in await self.db.fetch("demo_merchant_codes"):
            festival[row["category"]].append(row["credit_code"])
        rows = demo_turnover.takings(
            self.turnover_rng,
            festival,
            demo_turnover.comparison_codes(self.turnover_rng),
            FIRST_DAY,
            DAYS,
            BASELINE_YEAR,
        )
        await turnover.store(
            self.db,
            [turnover.Row(n, d, c, k, s) for n, (d, c, k, s) in enumerate(rows, start=2)],
            DEMO,
            self.at(FIRST_DAY + timedelta(days=DAYS), 8 * 3600),
        )

    async def _mules(self, day: date) -> None:
        """The planted merchants' collaborators claim, and their redemptions are planned
        (service/demo/cash_out.py says who does what)."""
        for mules in cash_out.mules_on(day):
            batch_id = self.batches[(day, mules.category)]
            offer = OFFERS[mules.category]
            outcomes = await claim_many(self.db, batch_id, mules.subs, self.at(day, 10 * 3600 + 1))
            claimed = [o for o in outcomes if isinstance(o, Claimed)]
            self.progress.claims += len(claimed)
            merchant = self.planted[mules.kind]
            for i, voucher in enumerate(claimed):
                if mules.kind == "hugging":
                    when = self.rng.uniform(13 * 3600, 21 * 3600)
                    amount = offer.min_spend_fen + self.rng.randint(0, 48) * 10
                elif mules.kind == "burst":
                    when = cash_out.BURST_STARTS_S + i * cash_out.BURST_EVERY_S
                    amount = self._amount(offer)
                else:
                    when = self.rng.uniform(15 * 3600, 18 * 3600)
                    amount = self._amount(offer)
                event = Event(self.at(day, when), "redeem", merchant, amount)
                self.plans[day][voucher.code].append(event)

    async def _bureau_morning(self, day: date) -> None:
        """What the bureau does the morning after `day`: it confirms the first cash-out flag
        it believes, exports the day's bank file and books the bank's returns."""
        flagged_day, after = cash_out.first_hugging_flag_review()
        if day == flagged_day:
            for flag in await risk.flags(
                self.db, "open", self.planted["hugging"], "threshold_hugging", 10
            ):
                await risk.review(
                    self.db,
                    flag["id"],
                    "confirm",
                    "订单金额集中在满减门槛之上，经核实为凑单套现",
                    DEMO,
                    self.at(day, after.total_seconds()),
                )
        morning = self.at(day + timedelta(days=1), 9 * 3600)
        made = await payments.export(self.db, f"demo-{day.isoformat()}", DEMO, morning, self.tz)
        if not made["rows"]:
            return
        self.bank_files += 1
        content, _ = await payments.file(self.db, made["id"])
        returned = [
            payments.Return(r["reference"], "paid")
            for r in csv.DictReader(io.StringIO(content.decode()))
        ]
        await payments.apply_returns(
            self.db, returned, DEMO, self.at(day + timedelta(days=1), 16 * 3600), self.tz
        )

    async def _batches(self) -> None:
        dealers = self.merchants["auto"][:AUTO_DEALERS_IN_FESTIVAL]
        self.merchants["auto"] = dealers
        self.merchant_weights["auto"] = self.merchant_weights["auto"][: len(dealers)]
        prepared = self.at(FIRST_DAY - timedelta(days=3), 15 * 3600)
        offer = OFFERS["auto"]
        for round_ in LOTTERY_ROUNDS:
            row = await create_batch(
                self.db,
                {
                    "category": "auto",
                    "title": f"{offer.title}（第{'一二三四'[round_.number - 1]}期摇号）",
                    "face_value_fen": offer.face_value_fen,
                    "min_spend_fen": offer.min_spend_fen,
                    # Enough at small scales that some go unused (and are recycled).
                    "quantity": max(10, round(LOTTERY_QUANTITY * self.scale)),
                    "per_resident_limit": 1,
                    "claim_starts_at": self.at(round_.opens, 10 * 3600),
                    "claim_ends_at": self.at(round_.closes, 22 * 3600),
                    "mode": "lottery",
                    "draw_at": self.at(round_.draw, 10 * 3600),
                    "valid_days": 7,
                    "valid_until": None,
                    "merchant_ids": dealers,
                },
                DEMO,
                prepared,
            )
            self.batches[(round_.draw, "auto")] = row["id"]
        for n in range(DAYS):
            day = FIRST_DAY + timedelta(days=n)
            for category in FIRST_COME:
                offer = OFFERS[category]
                base = (
                    offer.holiday_quantity if busyness(day) == "holiday" else offer.weekday_quantity
                )
                if busyness(day) == "weekend":
                    base = int(base * 1.2)
                row = await create_batch(
                    self.db,
                    {
                        "category": category,
                        "title": f"{offer.title}（{day.month}月{day.day}日）",
                        "face_value_fen": offer.face_value_fen,
                        "min_spend_fen": offer.min_spend_fen,
                        "quantity": max(1, round(base * self.scale))
                        + cash_out.extra_stock(day, category),
                        "per_resident_limit": 1,
                        "claim_starts_at": self.at(day, 10 * 3600),
                        "claim_ends_at": self.at(day, 22 * 3600),
                        "valid_days": 7,
                        "valid_until": None,
                        "merchant_ids": [],
                    },
                    DEMO,
                    prepared,
                )
                self.batches[(day, category)] = row["id"]

    async def _claims(self, day: date, residents: list[str]) -> None:
        mood = busyness(day)
        for category in FIRST_COME:
            offer = OFFERS[category]
            batch_id = self.batches[(day, category)]
            base = offer.holiday_quantity if mood == "holiday" else offer.weekday_quantity
            # Holidays and weekends sell out within minutes; weekdays leave some over.
            demand_factor = {"holiday": 1.7, "weekend": 1.3, "weekday": 0.85}[mood]
            demand = min(len(residents), max(1, round(base * demand_factor * self.scale)))
            claimants = self.rng.sample(residents, demand)
            waves = 8
            spread = 1800 if mood != "weekday" else 8 * 3600  # a flash crowd, or all day
            for w in range(waves):
                part = claimants[w::waves]
                if not part:
                    continue
                now = self.at(day, 10 * 3600 + spread * w / waves + self.rng.uniform(0, 30))
                outcomes = await claim_many(self.db, batch_id, part, now)
                for outcome in outcomes:
                    if isinstance(outcome, Claimed):
                        self.progress.claims += 1
                        self._plan(outcome, category, offer, mood)

    async def _lottery(
        self, day: date, residents: list[str], runner: JobRunner, clock: FixedClock
    ) -> None:
        """The auto rounds on `day`: a third of the round's entrants register (at random times
        between 10:00 and 22:00), the draw is the job's, and two weeks on the bureau recycles
        the round's vouchers that expired unused into a later round."""
        for k, round_ in enumerate(LOTTERY_ROUNDS):
            batch_id = self.batches[(round_.draw, "auto")]
            if round_.opens <= day <= round_.closes:
                entrants = self.rng.sample(residents, int(len(residents) * LOTTERY_ENTRANTS / 3))
                for wave in range(4):
                    at = self.at(day, 10 * 3600 + wave * 3 * 3600 + self.rng.uniform(0, 3 * 3600))
                    people = [(sub, f"r:{sub}") for sub in entrants[wave::4]]
                    await lottery.enter_many(self.db, batch_id, people, at)
            if day == round_.draw:
                at = clock.at = self.at(day, 10 * 3600)
                for result in await runner.on_due(BY_NAME["lottery_draw"], at):
                    if result.outcome != "succeeded":
                        raise RuntimeError(f"lottery_draw at {at}: {result.outcome}")
                offer = OFFERS["auto"]
                for row in await self.db.fetch("demo_batch_vouchers", batch_id=batch_id):
                    self.progress.claims += 1
                    self._plan(Claimed(**dict(row)), "auto", offer, busyness(day))
            later = k + RECYCLE_INTO
            if later < len(LOTTERY_ROUNDS) and day == round_.draw + timedelta(days=8):
                target = self.batches[(LOTTERY_ROUNDS[later].draw, "auto")]
                try:
                    await recycle(self.db, batch_id, target, DEMO, self.at(day, 9 * 3600))
                except DomainError as nothing_left:  # every voucher of the round was used
                    if nothing_left.code != ErrorCode.CONFLICT:
                        raise

    def _amount(self, offer: Offer) -> int:
        raw = offer.min_spend_fen * (1 + self.rng.lognormvariate(offer.mu, offer.sigma))
        step = 10000 if offer.min_spend_fen >= 1_000_000 else 10  # cars: whole hundred yuan
        return max(offer.min_spend_fen, int(math.floor(raw / step) * step))

    def _merchant(self, category: str) -> int:
        return self.rng.choices(self.merchants[category], self.merchant_weights[category])[0]

    def _plan(self, voucher: Claimed, category: str, offer: Offer, mood: str) -> None:
        rate = offer.redeem_rate + {"holiday": 0.05, "weekend": 0.02, "weekday": 0.0}[mood]
        if self.rng.random() >= rate:
            return  # never used: it will expire
        offset = self.rng.choices(range(len(USE_DAY_WEIGHTS)), USE_DAY_WEIGHTS)[0]
        day = voucher.claimed_at.astimezone(self.tz).date() + timedelta(days=offset)
        earliest = (voucher.claimed_at.astimezone(self.tz) - self.at(day, 0)).total_seconds()
        start = max(10.5 * 3600, earliest + 300)
        if start >= 21.5 * 3600:
            return
        when = self.at(day, self.rng.uniform(start, 21.5 * 3600))
        if when >= voucher.expires_at:
            return
        events = [Event(when, "redeem", self._merchant(category), self._amount(offer))]
        if self.rng.random() < REVERSAL_RATE:
            undo = when + timedelta(minutes=self.rng.uniform(5, 90))
            if undo.astimezone(self.tz).date() == day:
                events.append(Event(undo, "reverse"))
                if self.rng.random() < REUSE_AFTER_REVERSAL:
                    again = undo + timedelta(hours=self.rng.uniform(1, 48))
                    if again < voucher.expires_at and 10 <= again.astimezone(self.tz).hour < 22:
                        events.append(
                            Event(again, "redeem", self._merchant(category), self._amount(offer))
                        )
        for event in events:
            self.plans[event.at.astimezone(self.tz).date()][voucher.code].append(event)

    async def _redemptions(self, day: date) -> None:
        """The day's checkouts and reversals in the order they happened. Checkouts in a row
        commit together, each at its own moment (as the API's combiner commits the checkouts
        that arrive together); a reversal closes the run first. One transaction per checkout
        made the first start twice as slow."""
        events = sorted(
            (event.at, code, n, event)
            for code, chain in self.plans.pop(day, {}).items()
            for n, event in enumerate(sorted(chain, key=lambda e: e.at))
        )
        last: dict[str, tuple[int, int]] = {}  # code → its latest redemption and merchant
        run: list[redemptions.Checkout] = []
        for at, code, n, event in events:
            if event.kind == "reverse" or len(run) == redemptions.MAX_CHECKOUTS_PER_TRANSACTION:
                await self._checkouts(run, last)
                run = []
            if event.kind == "redeem":
                key = f"demo-{code}-{at.timestamp():.0f}"
                order_ref = f"POS{n:02d}-{code[:6]}"
                run.append(
                    redemptions.Checkout(
                        event.merchant_id, key, code, event.amount_fen, order_ref, at
                    )
                )
            elif code in last:
                redemption_id, merchant = last.pop(code)
                try:
                    await redemptions.reverse(
                        self.db, merchant, redemption_id, "顾客退货", at, self.tz
                    )
                    self.progress.reversals += 1
                except DomainError as refused:
                    self.progress.refused[refused.code] += 1
        await self._checkouts(run, last)

    async def _checkouts(
        self, run: list[redemptions.Checkout], last: dict[str, tuple[int, int]]
    ) -> None:
        if not run:
            return
        moment = run[-1].at
        assert moment is not None  # every replayed checkout has its own
        answers = await redemptions.redeem_many(self.db, run, moment, self.tz)
        for checkout, answer in zip(run, answers, strict=True):
            if isinstance(answer, DomainError):
                raise answer  # the demo's own checkouts name merchants that exist
            status, body = answer
            if status == 201:
                self.progress.redemptions += 1
                last[checkout.code] = (json.loads(body)["id"], checkout.merchant_id)
            else:
                self.progress.refused[json.loads(body)["error"]["code"]] += 1

    async def _baselines(self) -> None:
        """2019's sales on the same days, so recovery (sales ÷ baseline) means something: the
        2019 Labor Day holiday was 1–4 May, weekends as usual, and the festival's sales start
        below 2019's level and climb back (the recovery the bureau hoped to see)."""
        planned: dict[str, float] = {}
        rows = await self.db.fetch("demo_daily_sales_per_category")
        for row in rows:
            planned[row["category"]] = row["sales_fen"] / max(1, row["days"])
        rows = []
        for n in range(DAYS):
            day2020 = FIRST_DAY + timedelta(days=n)
            day2019 = day2020.replace(year=2019)
            factor = 1.45 if day2019.day <= 4 else (1.2 if day2019.weekday() >= 5 else 0.9)
            for category in OFFERS:
                typical = planned.get(category, 0.0) / 0.88
                rows.append(
                    (day2020, category, int(typical * factor * self.rng.uniform(0.94, 1.06)))
                )
        await baselines.store(self.db, rows, DEMO, self.at(FIRST_DAY - timedelta(days=7), 0))


async def is_empty(db: Database) -> bool:
    return bool(await db.fetchval("database_is_empty"))


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
            db,
            {
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
            DEMO,
            now,
        )
        ids[name] = row["id"]
    return ids


async def set_budgets(db: Database, now: datetime) -> None:
    """Each category's budget: every voucher of its batches (May's and the live ones) at
    face value, with headroom, in round sums (whole 10,000 yuan), so the bureau's page shows
    what is left."""
    for row in await db.fetch("demo_planned_face_value"):
        fen = math.ceil(row["fen"] * BUDGET_HEADROOM / 1_000_000) * 1_000_000
        await budget.set_budget(db, row["category"], fen, DEMO, now)


async def load_demo(
    db: Database,
    tz: Any,
    data_dir: Path,
    *,
    seed: int = 2020,
    scale: float = 1.0,
    report: Callable[[int, int, str], None] = lambda *_: None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Load the demo into an empty database; returns what a newcomer needs to try it."""
    if not await is_empty(db):
        raise DomainError(
            ErrorCode.CONFLICT,
            "the database already holds merchants or batches; "
            "the demo loads only into an empty database",
        )
    loader = DemoLoader(db, tz, seed=seed, scale=scale, report=report)
    progress = await loader.load()
    now = now or datetime.now(tz)
    live = await live_batches(db, now)
    await set_budgets(db, now)
    password = secrets.token_urlsafe(12)
    await logins.create_bureau_user(db, BUREAU_USER, password, DEMO, now)
    dining = loader.merchants["dining"][0]
    credentials = {
        "bureau": {"username": BUREAU_USER, "password": password},
        "merchant": {
            "merchant_id": dining,
            "name": MERCHANTS["dining"][0][0],
            "api_key": loader.api_keys[dining],
        },
        "live_batches": live,
        "summary": {
            "vouchers": progress.claims,
            "redemptions": progress.redemptions,
            "reversals": progress.reversals,
            "refused": dict(progress.refused),
        },
    }
    write_credentials(data_dir, credentials)
    return credentials


def credentials_path(data_dir: Path) -> Path:
    return data_dir / "demo-credentials.json"


def write_credentials(data_dir: Path, credentials: dict[str, Any]) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    path = credentials_path(data_dir)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(credentials, f, ensure_ascii=False, indent=2)


def read_credentials(data_dir: Path) -> dict[str, Any] | None:
    path = credentials_path(data_dir)
    if not path.exists():
        return None
    data: dict[str, Any] = json.loads(path.read_text())
    return data


async def load_if_empty(settings: Settings, *, seed: int, scale: float) -> dict[str, Any] | None:
    """`festival demo` and `make run`: the demo into the settings' database if it is empty,
    with a progress bar; None when the database already holds a festival."""
    async with open_database(settings, min_size=2, max_size=10) as db:
        if not await is_empty(db):
            return None
        started = time_module.monotonic()
        print("loading the demo festival (1–31 May 2020)…", file=sys.stderr)
        # One progress bar instead of a log line per nightly job.
        logging.getLogger("festival.jobs").setLevel(logging.WARNING)
        credentials = await load_demo(
            db, settings.tz, settings.data_dir, seed=seed, scale=scale, report=progress
        )
        summary = credentials["summary"]
        print(
            f"demo loaded in {time_module.monotonic() - started:.0f} s:"
            f" {summary['vouchers']:,} vouchers, {summary['redemptions']:,} redemptions,"
            f" {summary['reversals']:,} reversals",
            file=sys.stderr,
        )
        return credentials
