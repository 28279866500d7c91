"""The checkouts: when each claimed voucher is used (or reversed, and used again), and each
day's checkouts and reversals played in the order they happened."""

from __future__ import annotations

import json
from datetime import date, timedelta

from service.demo.festival import (
    REUSE_AFTER_REVERSAL,
    REVERSAL_RATE,
    USE_DAY_WEIGHTS,
    DemoState,
    Event,
    Offer,
)
from service.domain import redemptions
from service.domain.claims import Claimed
from service.errors import DomainError
from service.views.redemptions import redemption_text


def plan(demo: DemoState, voucher: Claimed, category: str, offer: Offer, mood: str) -> None:
    """Whether, when and where a claimed voucher is used (and perhaps reversed and used again),
    as events of the day they happen on."""
    rate = offer.redeem_rate + {"holiday": 0.05, "weekend": 0.02, "weekday": 0.0}[mood]
    if demo.rng.random() >= rate:
        return  # never used: it will expire
    offset = demo.rng.choices(range(len(USE_DAY_WEIGHTS)), USE_DAY_WEIGHTS)[0]
    day = voucher.claimed_at.astimezone(demo.tz).date() + timedelta(days=offset)
    earliest = (voucher.claimed_at.astimezone(demo.tz) - demo.at(day, 0)).total_seconds()
    start = max(10.5 * 3600, earliest + 300)
    if start >= 21.5 * 3600:
        return
    when = demo.at(day, demo.rng.uniform(start, 21.5 * 3600))
    if when >= voucher.expires_at:
        return
    events = [Event(when, "redeem", demo.merchant(category), demo.amount(offer))]
    if demo.rng.random() < REVERSAL_RATE:
        undo = when + timedelta(minutes=demo.rng.uniform(5, 90))
        if undo.astimezone(demo.tz).date() == day:
            events.append(Event(undo, "reverse"))
            if demo.rng.random() < REUSE_AFTER_REVERSAL:
                again = undo + timedelta(hours=demo.rng.uniform(1, 48))
                if again < voucher.expires_at and 10 <= again.astimezone(demo.tz).hour < 22:
                    events.append(
                        Event(again, "redeem", demo.merchant(category), demo.amount(offer))
                    )
    for event in events:
        demo.plans[event.at.astimezone(demo.tz).date()][voucher.code].append(event)


async def play(demo: DemoState, day: date) -> None:
    """The day's checkouts and reversals in the order they happened. Checkouts in a row
    commit together, each at its own moment (as the API's combiner commits the checkouts
    that arrive together); a reversal closes the run first. One transaction per checkout
    made the first start twice as slow."""
    events = sorted(
        (event.at, code, n, event)
        for code, chain in demo.plans.pop(day, {}).items()
        for n, event in enumerate(sorted(chain, key=lambda e: e.at))
    )
    last: dict[str, tuple[int, int]] = {}  # code → its latest redemption and merchant
    run: list[redemptions.Checkout] = []
    for at, code, n, event in events:
        if event.kind == "reverse" or len(run) == redemptions.MAX_CHECKOUTS_PER_TRANSACTION:
            await checkouts(demo, run, last)
            run = []
        if event.kind == "redeem":
            key = f"demo-{code}-{at.timestamp():.0f}"
            order_ref = f"POS{n:02d}-{code[:6]}"
            run.append(
                redemptions.Checkout(event.merchant_id, key, code, event.amount_fen, order_ref, at)
            )
        elif code in last:
            redemption_id, merchant = last.pop(code)
            try:
                await redemptions.reverse(
                    demo.db,
                    merchant,
                    redemption_id=redemption_id,
                    reason="顾客退货",
                    now=at,
                    tz=demo.tz,
                )
                demo.progress.reversals += 1
            except DomainError as refused:
                demo.progress.refused[refused.code] += 1
    await checkouts(demo, run, last)


async def checkouts(
    demo: DemoState, run: list[redemptions.Checkout], last: dict[str, tuple[int, int]]
) -> None:
    if not run:
        return
    moment = run[-1].at
    assert moment is not None  # every replayed checkout has its own
    answers = await redemptions.redeem_many(
        demo.db,
        run,
        now=moment,
        tz=demo.tz,
        render=lambda redemption: redemption_text(redemption, demo.tz),
    )
    for checkout, answer in zip(run, answers, strict=True):
        if isinstance(answer, DomainError):
            raise answer  # the demo's own checkouts name merchants that exist
        status, body = answer
        if status == 201:
            demo.progress.redemptions += 1
            last[checkout.code] = (json.loads(body)["id"], checkout.merchant_id)
        else:
            demo.progress.refused[json.loads(body)["error"]["code"]] += 1
