"""The festival the demo plays, 1–31 May 2020: its days, offers and lottery rounds, and what
the loaders of service/demo/ share while they write it (DemoState: the clock's days, the seeded
random generators, the merchants, batches and planned checkouts so far)."""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from service.db import Database
from service.domain.audit import Actor
from service.domain.phones import PhoneCipher

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
    # A checkout of several vouchers of one resident (its codes, this event's code first).
    several: tuple[str, ...] = ()


# Cashiers per merchant, and who rings up a checkout: mostly a cashier, now and then the owner.
CASHIERS_PER_MERCHANT = (1, 3)
OWNER_AT_THE_TILL = 0.15
CASHIER_NAMES = (
    "王丽",
    "张敏",
    "李娜",
    "刘洋",
    "陈静",
    "杨帆",
    "赵磊",
    "黄婷",
    "周强",
    "吴霞",
    "徐鹏",
    "孙燕",
    "马超",
    "朱红",
    "胡军",
    "郭慧",
    "何平",
    "高莉",
    "林涛",
    "罗娟",
)
# Of a resident's vouchers of one category planned for the same day (one use each, no
# reversal), the share used together in one checkout at the first one's merchant: a family's
# shopping at one store, tickets for an outing. (Not dining: the regulars of a snack bar who
# also bring two vouchers at once would be flagged by repeat_pair, three vouchers in a week.)
TOGETHER = 0.35
TOGETHER_CATEGORIES = ("shopping", "culture_tourism")


@dataclass
class Progress:
    claims: int = 0
    redemptions: int = 0
    checkouts: int = 0  # of several vouchers (each of their vouchers counts a redemption)
    reversals: int = 0
    refused: dict[str, int] = field(default_factory=lambda: defaultdict(int))


class DemoState:
    """What the loaders share: the database, the festival's zone and scale, the seeded
    generators (every draw in the order the days happen), and what was written so far."""

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
        # So do the merchants' places (街道, position, hours) and the pending applications.
        self.places_rng = random.Random(seed * 6151 + 2)
        # And the residents' phones (service/demo/messages.py).
        self.phones_rng = random.Random(seed * 104_729 + 3)
        # So do the cashiers, their notes and which vouchers are used together.
        self.till_rng = random.Random(seed * 130_363 + 5)
        self.cashiers: dict[int, list[int]] = {}  # merchant → its cashiers' ids
        self.cashier_keys: dict[int, str] = {}  # cashier → its api key
        self.receipts: dict[int, int] = defaultdict(int)  # merchant → receipts printed
        # A first-come voucher's holder and category (lottery vouchers are used alone).
        self.holders: dict[str, tuple[str, str]] = {}
        self.claimed: dict[str, datetime] = {}
        self.expiry: dict[str, datetime] = {}
        self.merchants: dict[str, list[int]] = {}
        self.merchant_weights: dict[str, list[float]] = {}
        self.batches: dict[tuple[date, str], int] = {}
        self.plans: dict[date, dict[str, list[Event]]] = defaultdict(lambda: defaultdict(list))
        self.progress = Progress()
        self.qr_key = b""
        self.api_keys: dict[int, str] = {}
        self.planted: dict[str, int] = {}  # cash_out.PLANTED's kinds → merchant id
        self.bank_files = 0
        # Seals the phones of the residents who signed in by SMS (service/demo/messages.py).
        self.phones: PhoneCipher | None = None

    def at(self, day: date, seconds: float) -> datetime:
        return datetime.combine(day, time(), self.tz) + timedelta(seconds=seconds)

    def amount(self, offer: Offer) -> int:
        raw = offer.min_spend_fen * (1 + self.rng.lognormvariate(offer.mu, offer.sigma))
        step = 10000 if offer.min_spend_fen >= 1_000_000 else 10  # cars: whole hundred yuan
        return max(offer.min_spend_fen, int(math.floor(raw / step) * step))

    def merchant(self, category: str) -> int:
        return self.rng.choices(self.merchants[category], self.merchant_weights[category])[0]
