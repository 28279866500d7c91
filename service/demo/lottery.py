"""The auto lottery rounds: entries, the draw (the job's), and the recycling of a round's
unused vouchers into a later round."""

from __future__ import annotations

from datetime import date, timedelta

from jobs.registry import BY_NAME
from jobs.runner import JobRunner
from service.clock import FixedClock
from service.demo.festival import (
    DEMO,
    LOTTERY_ENTRANTS,
    LOTTERY_ROUNDS,
    OFFERS,
    RECYCLE_INTO,
    DemoState,
    busyness,
)
from service.demo.redemptions import plan
from service.domain import lottery
from service.domain.batches import recycle
from service.domain.claims import Claimed
from service.domain.context import Context
from service.errors import DomainError, ErrorCode


async def rounds(
    demo: DemoState, day: date, residents: list[str], runner: JobRunner, clock: FixedClock
) -> None:
    """The auto rounds on `day`: a third of the round's entrants register (at random times
    between 10:00 and 22:00), the draw is the job's, and two weeks on the bureau recycles
    the round's vouchers that expired unused into a later round."""
    for k, round_ in enumerate(LOTTERY_ROUNDS):
        batch_id = demo.batches[(round_.draw, "auto")]
        if round_.opens <= day <= round_.closes:
            entrants = demo.rng.sample(residents, int(len(residents) * LOTTERY_ENTRANTS / 3))
            for wave in range(4):
                at = demo.at(day, 10 * 3600 + wave * 3 * 3600 + demo.rng.uniform(0, 3 * 3600))
                people = [(sub, f"r:{sub}") for sub in entrants[wave::4]]
                await lottery.enter_many(demo.db, batch_id, people=people, now=at)
        if day == round_.draw:
            at = clock.at = demo.at(day, 10 * 3600)
            for result in await runner.on_due(BY_NAME["lottery_draw"], at):
                if result.outcome != "succeeded":
                    raise RuntimeError(f"lottery_draw at {at}: {result.outcome}")
            offer = OFFERS["auto"]
            for row in await demo.db.fetch("demo_batch_vouchers", batch_id=batch_id):
                demo.progress.claims += 1
                plan(demo, Claimed(**dict(row)), "auto", offer, busyness(day))
        later = k + RECYCLE_INTO
        if later < len(LOTTERY_ROUNDS) and day == round_.draw + timedelta(days=8):
            target = demo.batches[(LOTTERY_ROUNDS[later].draw, "auto")]
            try:
                await recycle(
                    Context(db=demo.db, actor=DEMO, now=demo.at(day, 9 * 3600), tz=demo.tz),
                    source_id=batch_id,
                    target_id=target,
                )
            except DomainError as nothing_left:  # every voucher of the round was used
                if nothing_left.code != ErrorCode.CONFLICT:
                    raise
