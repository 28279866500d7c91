"""Three cash-out (套现) merchants planted among the demo's honest ones, each of another kind,
so the bureau's risk queue has real cases and tests can hold the rules to them. Their
collaborators ("mules": residents' accounts lent out or bought) claim vouchers like anyone
else, at the opening second, from stock the bureau issued on top of the day's batch:

- 鑫源日杂商行 (shopping) rings up fake orders just over the 满100 threshold: 24 a day from
  8 to 20 May, each 100.00–104.80 yuan, spread over the afternoon → `threshold_hugging`.
- 夜猫子烧烤 (dining) runs 30 vouchers through in eight minutes on the evening of Saturday
  16 May, ordinary-looking amounts → `burst`.
- 乐途旅游服务部 (culture_tourism) is where a ring of four people spends a voucher each,
  every day from 10 to 19 May → `repeat_pair`, once per person per seven days.

Amounts and times are fixed by the demo's seed, like everything else in it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

# (name, category, street) of each planted merchant, and the rule that should catch it.
PLANTED = {
    "hugging": ("鑫源日杂商行", "shopping", "段店北路203号", "threshold_hugging"),
    "burst": ("夜猫子烧烤", "dining", "营市街77号", "burst"),
    "ring": ("乐途旅游服务部", "culture_tourism", "经十西路1210号", "repeat_pair"),
}
HUGGING_DAYS = [date(2020, 5, d) for d in range(8, 21)]
HUGGING_PER_DAY = 24
BURST_DAY = date(2020, 5, 16)
BURST_COUNT = 30
BURST_STARTS_S = 20 * 3600 + 30 * 60  # 20:30
BURST_EVERY_S = 16  # 30 redemptions in 8 minutes
RING_DAYS = [date(2020, 5, d) for d in range(10, 20)]
RING_MEMBERS = 4


@dataclass(frozen=True)
class Mules:
    """Who claims what on a day for the planted merchants: (category, kind, subs)."""

    category: str
    kind: str
    subs: list[str]


def mules_on(day: date) -> list[Mules]:
    out = []
    if day in HUGGING_DAYS:
        subs = [f"demo-mule-h{day.day:02d}-{i:02d}" for i in range(HUGGING_PER_DAY)]
        out.append(Mules("shopping", "hugging", subs))
    if day == BURST_DAY:
        out.append(Mules("dining", "burst", [f"demo-mule-b-{i:02d}" for i in range(BURST_COUNT)]))
    if day in RING_DAYS:
        subs = [f"demo-ring-{i}" for i in range(1, RING_MEMBERS + 1)]
        out.append(Mules("culture_tourism", "ring", subs))
    return out


def extra_stock(day: date, category: str) -> int:
    """Vouchers issued on top of a day's batch for the mules (the batch stays as planned for
    everyone else)."""
    return sum(len(m.subs) for m in mules_on(day) if m.category == category)


def first_hugging_flag_review() -> tuple[date, timedelta]:
    """The bureau confirms the hugger's first flag the morning after (its lines are held)."""
    return HUGGING_DAYS[0], timedelta(days=1, hours=10)
