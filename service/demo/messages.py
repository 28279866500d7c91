"""The SMS the demo month would have sent: lottery results after each draw, and the expiry
reminders each morning, through the live send_messages job (so the quiet hours and the
daily cap hold as they would have) with a sender that sends nothing: each message is
recorded sent, under a provider id of the demo's own (`demo-…`).

Seven residents in ten signed in by SMS, so the service has their phones (sealed with the
phones' key, as a sign-in would); the others came through the identity platform only and get
no SMS. The phones are drawn from a generator of their own, so the rest of the demo stays
as it was."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from jobs.registry import BY_NAME
from jobs.runner import JobRunner
from service.clock import FixedClock
from service.demo.festival import DemoState
from service.domain.phones import mask_phone, resident_phone_binding

SMS_SHARE = 0.7
# The runs of a morning: 08:00, then a minute more each until nothing is due.
MORNING_S = 8 * 3600
AFTER_DRAW_S = 10 * 3600 + 60  # the draws are at 10:00


class DemoSender:
    """Sends nothing: the provider id is the outbox row's key, as a gateway keeping keys
    would answer it."""

    async def send_message(self, phone: str, text: str, *, key: str | None = None) -> str:
        return f"demo-{key}"


async def residents(demo: DemoState, subs: list[str]) -> int:
    """The residents made ahead of their first claim, seven in ten with their phones.
    Returns how many have a phone."""
    assert demo.phones is not None
    rng = demo.phones_rng
    made = await demo.db.fetch("demo_residents", subs=subs, persons=[f"r:{s}" for s in subs])
    with_phone = []
    for row in sorted(made, key=lambda r: r["sub"]):
        phone = f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}"
        if rng.random() < SMS_SHARE:
            with_phone.append((row["id"], phone))
    await demo.db.execute(
        "demo_resident_phones",
        ids=[i for i, _ in with_phone],
        phones_enc=[demo.phones.seal(p, bound_to=resident_phone_binding(i)) for i, p in with_phone],
        phones_masked=[mask_phone(p) for _, p in with_phone],
    )
    return len(with_phone)


async def morning(demo: DemoState, day: date, runner: JobRunner, clock: FixedClock) -> None:
    """The day's reminders, from 08:00."""
    await _send(demo, demo.at(day, MORNING_S), runner, clock)


async def after_draws(demo: DemoState, day: date, runner: JobRunner, clock: FixedClock) -> None:
    """The results of the day's draws (if any), from a minute after them."""
    await _send(demo, demo.at(day, AFTER_DRAW_S), runner, clock)


async def _send(demo: DemoState, at: datetime, runner: JobRunner, clock: FixedClock) -> None:
    clock.at = at
    while True:
        for result in await runner.on_due(BY_NAME["send_messages"], clock.at):
            if result.outcome != "succeeded":
                raise RuntimeError(f"send_messages at {clock.at}: {result.outcome}")
        if not await demo.db.fetchval("demo_messages_due", now=clock.at):
            return
        clock.at += timedelta(minutes=1)
