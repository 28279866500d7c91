"""The checkouts: when each claimed voucher is used (or reversed, and used again), and each
day's checkouts and reversals played in the order they happened."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date, datetime, timedelta

from service.demo.festival import (
    OWNER_AT_THE_TILL,
    REUSE_AFTER_REVERSAL,
    REVERSAL_RATE,
    TOGETHER,
    TOGETHER_CATEGORIES,
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


def together(demo: DemoState, day: date, chains: dict[str, list[Event]]) -> None:
    """Some residents use several vouchers of one category in one checkout (API.md: a checkout
    QR). A resident's first-come vouchers of a category planned for this day (each used once,
    not reversed), with those of the next day it has nothing else planned for today, are rung
    up together at the latest of today's moments, at the first one's merchant, for the sum of
    their orders, when each was claimed by then and none has expired. Draws from
    demo.till_rng only (the rest of the demo draws as before)."""
    later = demo.plans.get(day + timedelta(days=1), {})

    def used_once(found: dict[str, list[Event]], *, skip: dict[str, list[Event]]) -> list[str]:
        alone = [
            (chain[0].at, code)
            for code, chain in found.items()
            if code in demo.holders
            and code not in skip
            and len(chain) == 1
            and chain[0].kind == "redeem"
        ]
        return [code for _, code in sorted(alone)]

    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for code in used_once(chains, skip={}):
        groups[demo.holders[code]].append(code)
    brought: dict[tuple[str, str], list[str]] = defaultdict(list)
    for code in used_once(later, skip=chains):
        brought[demo.holders[code]].append(code)
    for holder, planned in groups.items():
        codes = [*planned, *brought.get(holder, [])][:3]
        if len(codes) < 2 or holder[1] not in TOGETHER_CATEGORIES:
            continue
        if demo.till_rng.random() >= TOGETHER:
            continue
        events = [(chains[code] if code in chains else later[code])[0] for code in codes]
        if any(e.merchant_id in demo.planted.values() for e in events):
            continue  # the planted cash-out merchants' days stay exactly as planted
        at = max(e.at for code, e in zip(codes, events, strict=True) if code in chains)
        if any(demo.claimed[c] + timedelta(minutes=5) > at or demo.expiry[c] <= at for c in codes):
            continue
        amount = sum(e.amount_fen for e in events)
        chains[codes[0]] = [Event(at, "redeem", events[0].merchant_id, amount, tuple(codes))]
        for code in codes[1:]:
            (chains if code in chains else later).pop(code)


def till(demo: DemoState, merchant_id: int, at: datetime) -> tuple[int | None, str]:
    """Who rings a checkout up (a cashier, or now and then the owner: None) and the note the
    till prints on it."""
    cashiers = demo.cashiers.get(merchant_id, [])
    owner = not cashiers or demo.till_rng.random() < OWNER_AT_THE_TILL
    demo.receipts[merchant_id] += 1
    receipt = f"小票号 {at.astimezone(demo.tz):%m%d}-{demo.receipts[merchant_id]:05d}"
    if owner:
        return None, f"店主 · {receipt}"
    position = demo.till_rng.randrange(len(cashiers))
    return cashiers[position], f"收银台 {position + 1} · {receipt}"


async def play(demo: DemoState, day: date) -> None:
    """The day's checkouts and reversals in the order they happened. Checkouts in a row
    commit together, each at its own moment (as the API's combiner commits the checkouts
    that arrive together); a reversal closes the run first. One transaction per checkout
    made the first start twice as slow."""
    chains = demo.plans.pop(day, {})
    together(demo, day, chains)
    events = sorted(
        (event.at, code, n, event)
        for code, chain in chains.items()
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
            cashier, note = till(demo, event.merchant_id, at)
            run.append(
                redemptions.Checkout(
                    event.merchant_id,
                    key,
                    "" if event.several else code,
                    event.amount_fen,
                    order_ref,
                    at,
                    cashier_id=cashier,
                    metadata=note,
                    several=event.several or None,
                )
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
            found = json.loads(body)
            if checkout.several is None:
                demo.progress.redemptions += 1
                last[checkout.code] = (found["id"], checkout.merchant_id)
            else:
                demo.progress.redemptions += len(found["items"])
                demo.progress.checkouts += 1
        else:
            demo.progress.refused[json.loads(body)["error"]["code"]] += 1
