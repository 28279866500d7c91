"""Sales the bureau imports: the merchants' takings of 2019 and 2020 (played by
service/demo/turnover.py) and 2019's sales per category, the recovery's baselines."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from service.demo import turnover as demo_turnover
from service.demo.festival import BASELINE_YEAR, DAYS, DEMO, FIRST_DAY, OFFERS, DemoState
from service.domain import baselines, turnover
from service.domain.context import Context


async def takings(demo: DemoState) -> None:
    """2019 and 2020 takings of the festival merchants and of comparison merchants outside
    it, with a known effect planted (service/demo/turnover.py), imported as the bureau
    would from tax data."""
    festival: dict[str, list[str]] = defaultdict(list)
    for row in await demo.db.fetch("demo_merchant_codes"):
        festival[row["category"]].append(row["credit_code"])
    rows = demo_turnover.takings(
        demo.turnover_rng,
        festival,
        demo_turnover.comparison_codes(demo.turnover_rng),
        FIRST_DAY,
        DAYS,
        BASELINE_YEAR,
    )
    await turnover.store(
        Context(
            db=demo.db,
            actor=DEMO,
            now=demo.at(FIRST_DAY + timedelta(days=DAYS), 8 * 3600),
            tz=demo.tz,
        ),
        rows=[turnover.Row(n, d, c, k, s) for n, (d, c, k, s) in enumerate(rows, start=2)],
    )


async def baselines_2019(demo: DemoState) -> None:
    """2019's sales on the same days, so recovery (sales ÷ baseline) means something: the
    2019 Labor Day holiday was 1–4 May, weekends as usual, and the festival's sales start
    below 2019's level and climb back (the recovery the bureau hoped to see)."""
    planned: dict[str, float] = {}
    rows = await demo.db.fetch("demo_daily_sales_per_category")
    for row in rows:
        planned[row["category"]] = row["sales_fen"] / max(1, row["days"])
    rows = []
    for n in range(DAYS):
        day2020 = FIRST_DAY + timedelta(days=n)
        day2019 = day2020.replace(year=2019)
        factor = 1.45 if day2019.day <= 4 else (1.2 if day2019.weekday() >= 5 else 0.9)
        for category in OFFERS:
            typical = planned.get(category, 0.0) / 0.88
            rows.append((day2020, category, int(typical * factor * demo.rng.uniform(0.94, 1.06))))
    await baselines.store(
        Context(db=demo.db, actor=DEMO, now=demo.at(FIRST_DAY - timedelta(days=7), 0), tz=demo.tz),
        rows=rows,
    )
