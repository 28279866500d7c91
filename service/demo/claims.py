"""The residents' claims: each day's first-come batches claimed in waves, and the planted
merchants' collaborators at the opening second."""

from __future__ import annotations

from datetime import date

from service.demo import cash_out
from service.demo.festival import FIRST_COME, OFFERS, DemoState, Event, busyness
from service.demo.redemptions import plan
from service.domain.claims import Claimed, claim_many


async def mules(demo: DemoState, day: date) -> None:
    """The planted merchants' collaborators claim, and their redemptions are planned
    (service/demo/cash_out.py says who does what)."""
    for mules in cash_out.mules_on(day):
        batch_id = demo.batches[(day, mules.category)]
        offer = OFFERS[mules.category]
        outcomes = await claim_many(
            demo.db, batch_id, requests=mules.subs, now=demo.at(day, 10 * 3600 + 1)
        )
        claimed = [o for o in outcomes if isinstance(o, Claimed)]
        demo.progress.claims += len(claimed)
        merchant = demo.planted[mules.kind]
        for i, voucher in enumerate(claimed):
            if mules.kind == "hugging":
                when = demo.rng.uniform(13 * 3600, 21 * 3600)
                amount = offer.min_spend_fen + demo.rng.randint(0, 48) * 10
            elif mules.kind == "burst":
                when = cash_out.BURST_STARTS_S + i * cash_out.BURST_EVERY_S
                amount = demo.amount(offer)
            else:
                when = demo.rng.uniform(15 * 3600, 18 * 3600)
                amount = demo.amount(offer)
            event = Event(demo.at(day, when), "redeem", merchant, amount)
            demo.plans[day][voucher.code].append(event)


async def first_come(demo: DemoState, day: date, residents: list[str]) -> None:
    """Residents claim the day's first-come batches in eight waves, and each voucher they
    get has its use planned (service/demo/redemptions.py)."""
    mood = busyness(day)
    for category in FIRST_COME:
        offer = OFFERS[category]
        batch_id = demo.batches[(day, category)]
        base = offer.holiday_quantity if mood == "holiday" else offer.weekday_quantity
        # Holidays and weekends sell out within minutes; weekdays leave some over.
        demand_factor = {"holiday": 1.7, "weekend": 1.3, "weekday": 0.85}[mood]
        demand = min(len(residents), max(1, round(base * demand_factor * demo.scale)))
        claimants = demo.rng.sample(residents, demand)
        waves = 8
        spread = 1800 if mood != "weekday" else 8 * 3600  # a flash crowd, or all day
        for w in range(waves):
            part = claimants[w::waves]
            if not part:
                continue
            now = demo.at(day, 10 * 3600 + spread * w / waves + demo.rng.uniform(0, 30))
            outcomes = await claim_many(demo.db, batch_id, requests=part, now=now)
            for sub, outcome in zip(part, outcomes, strict=True):
                if isinstance(outcome, Claimed):
                    demo.progress.claims += 1
                    demo.holders[outcome.code] = (sub, category)
                    demo.claimed[outcome.code] = outcome.claimed_at
                    demo.expiry[outcome.code] = outcome.expires_at
                    plan(demo, outcome, category, offer, mood)
