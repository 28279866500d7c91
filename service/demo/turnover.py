"""The demo's takings, 2019 and 2020, with an answer known in advance.

Every festival merchant and 30 comparison merchants per category outside the festival get
their whole takings for each festival day and for its baseline day (same ISO week and
weekday of 2019). Nothing here is derived from the voucher sales the demo also plays, and
nothing from the estimate it is meant to test:

- each merchant has its own level (lognormal) and a weekday rhythm shared by both years, so
  aligned days compare like with like;
- 2020 takings are the 2019 level × the district's recovery that day (0.72 on 1 May, climbing
  to 0.90 by 31 May, the same for everyone) × the merchant's own deviation × ±8% daily noise;
- a festival merchant's takings carry TRUE_EFFECT of its category on top. Each merchant's own
  deviations are centred (weighted by its baseline), so the effect planted in these merchants
  is exactly TRUE_EFFECT, and the service's interval should hold it.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from service.credit_code import random_huaiyin_code
from service.domain.recovery import baseline_day

# What the festival added to its merchants' recovery index, per category (the known answer).
TRUE_EFFECT = {"shopping": 0.10, "dining": 0.07, "culture_tourism": 0.15, "auto": 0.05}
COMPARISON_PER_CATEGORY = 30
# A merchant's typical 2019 day, in yuan (median of its lognormal level).
TYPICAL_DAY_YUAN = {
    "shopping": 60_000,
    "dining": 12_000,
    "culture_tourism": 20_000,
    "auto": 300_000,
}
WEEKDAY_RHYTHM = {1: 0.85, 2: 0.85, 3: 0.9, 4: 0.95, 5: 1.1, 6: 1.3, 7: 1.25}
SPREAD = 0.06  # merchants' own deviation from the district's path (standard deviation)
NOISE = 0.08


def recovery_on(n: int, days: int) -> float:
    """The district's recovery on festival day n (0-based): 0.72 → 0.90."""
    return 0.72 + 0.18 * n / max(1, days - 1)


def comparison_codes(rng: random.Random) -> dict[str, list[str]]:
    return {
        category: [random_huaiyin_code(rng) for _ in range(COMPARISON_PER_CATEGORY)]
        for category in TRUE_EFFECT
    }


def takings(
    rng: random.Random,
    festival: dict[str, list[str]],
    comparison: dict[str, list[str]],
    first: date,
    days: int,
    baseline_year: int,
) -> list[tuple[date, str, str, int]]:
    """(date, credit_code, category, sales_fen) for every merchant, festival day and baseline
    day."""
    rows: list[tuple[date, str, str, int]] = []
    for category, effect in TRUE_EFFECT.items():
        for codes, planted in ((festival.get(category, []), effect), (comparison[category], 0.0)):
            if not codes:
                continue
            levels = [TYPICAL_DAY_YUAN[category] * 100 * rng.lognormvariate(0, 0.6) for _ in codes]
            own = [rng.gauss(0, SPREAD) for _ in codes]
            # Centred on the baseline's weights: the group's own deviations add up to nothing.
            mean = sum(w * d for w, d in zip(levels, own, strict=True)) / sum(levels)
            own = [d - mean for d in own]
            for n in range(days):
                day = first + timedelta(days=n)
                base_day = baseline_day(day, baseline_year)
                assert base_day is not None  # the festival is in May: no week 53
                rhythm = WEEKDAY_RHYTHM[day.isoweekday()]
                for code, level, deviation in zip(codes, levels, own, strict=True):
                    before = level * rhythm * rng.uniform(1 - NOISE, 1 + NOISE)
                    now = (
                        level
                        * rhythm
                        * (recovery_on(n, days) + planted + deviation)
                        * rng.uniform(1 - NOISE, 1 + NOISE)
                    )
                    rows.append((base_day, code, category, round(before)))
                    rows.append((day, code, category, round(now)))
    return rows
