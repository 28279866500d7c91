"""The send_messages job (jobs/messages.py, service/domain/messages.py): lottery results within
10 minutes of a draw, expiry reminders 3 days and 1 day before, at most 2 reminders a person
a day, none 21:00–08:00 festival time (the drill clock's, in a drill), retries with backoff
that lose nothing, and senders that never send one message twice."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta

import pytest

from jobs.registry import BY_NAME
from jobs.scheduler import DrillScheduler
from service import keys
from service.domain import messages
from service.domain.messages import Delivery, Undeliverable
from service.vocabulary import APPLICATION_DECISION
from tests.conftest import Api
from tests.support.drill import festival_day, move, real_now
from tests.support.lottery import ENTRIES, lottery_batch
from tests.support.messages import (
    PREFERENCES,
    phone,
    rows,
    send,
    signed_in,
    sql,
)
from tests.support.races import started


def at(api: Api, day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=api.settings.tz)


async def enqueue(api: Api, key: str, number: str, text: str = "您的报名已通过。") -> int:
    async with api.client.app[keys.DB].transaction() as tx:
        queued = await messages.enqueue(
            tx,
            kind=APPLICATION_DECISION,
            dedupe_key=key,
            text=text,
            now=api.clock.now(),
            phone=number,
            cipher=api.client.app[keys.PHONES],
        )
    assert queued is not None
    return queued


async def claim(api: Api, batch_id: int, headers: dict[str, str]) -> str:
    _, voucher = await api.call(
        "POST", f"/api/v1/batches/{batch_id}/claims", headers=headers, expect=201
    )
    return str(voucher["code"])


# --- lottery results ----------------------------------------------------------------------


async def test_lottery_results_reach_every_entrant_with_a_phone_within_ten_minutes(
    drill: Api,
) -> None:
    day = festival_day(real_now(), drill) + timedelta(days=2)
    await move(drill, at(drill, day, 9))
    # Two winners of four: at least one of them has a phone.
    lottery = await lottery_batch(drill, quantity=2, title="汽车消费券 第1轮")
    entrants = [await signed_in(drill, phone(n)) for n in (1, 2, 3)]
    # An identity-platform account: the service has no phone for it.
    entrants.append(drill.auth("resident", "city-resident"))
    for headers in entrants:
        await drill.call("POST", ENTRIES.format(lottery["id"]), headers=headers, expect=201)
    scheduler = DrillScheduler(drill.client.app[keys.JOBS])
    await scheduler.tick()

    draw_at = datetime.fromisoformat(lottery["draw_at"])
    # The minute of the draw: lottery_draw draws, and send_messages (due the same minute,
    # run beside it) may or may not see its messages yet; the next minute sends them.
    await move(drill, draw_at + timedelta(seconds=5))
    await scheduler.tick()
    await move(drill, draw_at + timedelta(seconds=65))
    await scheduler.tick()

    (batch,) = await sql(drill, "SELECT drawn_at FROM batches WHERE id = $1", lottery["id"])
    sent = await rows(drill)
    assert [m["status"] for m in sent] == ["sent"] * 3
    assert sorted(m.phone for m in drill.sms.messages) == [phone(1), phone(2), phone(3)]
    assert all(m["sent_at"] - batch["drawn_at"] <= timedelta(minutes=10) for m in sent)
    # Each told its own result (the one winner may be the account without a phone).
    results = await sql(
        drill,
        "SELECT r.phone_masked, e.status FROM lottery_entries e"
        " JOIN residents r ON r.id = e.resident_id WHERE r.phone_enc IS NOT NULL",
    )
    told = {m.phone[:3] + "****" + m.phone[-4:]: m.text for m in drill.sms.messages}
    assert len(results) == 3 and "won" in {e["status"] for e in results}
    for entrant in results:
        text = told[entrant["phone_masked"]]
        if entrant["status"] == "won":
            assert "恭喜您在「汽车消费券 第1轮」摇号中签" in text, text
        else:
            assert "很遗憾，您未在「汽车消费券 第1轮」摇号中中签" in text, text
    # One per (batch, person): the job's later runs send nothing more.
    await move(drill, draw_at + timedelta(minutes=3))
    await scheduler.tick()
    assert len(drill.sms.messages) == 3 and len(await rows(drill)) == 3


# --- quiet hours ----------------------------------------------------------------------------


async def test_nothing_is_sent_from_21_to_08_festival_time_on_the_drill_clock(drill: Api) -> None:
    day = festival_day(real_now(), drill) + timedelta(days=2)
    await move(drill, at(drill, day, 20, 59))
    await enqueue(drill, "application:1", phone(1))
    await send(drill)
    assert [m.phone for m in drill.sms.messages] == [phone(1)]  # 20:59: sent

    await enqueue(drill, "application:2", phone(2))
    await move(drill, at(drill, day, 21))
    await send(drill)
    await move(drill, at(drill, day + timedelta(days=1), 3))
    await send(drill)
    await move(drill, at(drill, day + timedelta(days=1), 7, 59))
    await send(drill)
    (held,) = await rows(drill, "dedupe_key = 'application:2'")
    assert (held["status"], held["attempts"], len(drill.sms.messages)) == ("queued", 0, 1)

    await move(drill, at(drill, day + timedelta(days=1), 8))
    await send(drill)
    (sent,) = await rows(drill, "dedupe_key = 'application:2'")
    assert (sent["status"], sent["attempts"]) == ("sent", 1)
    assert sent["sent_at"] >= at(drill, day + timedelta(days=1), 8)
    assert [m.phone for m in drill.sms.messages] == [phone(1), phone(2)]


async def test_a_draw_in_the_quiet_hours_is_announced_from_eight(drill: Api) -> None:
    day = festival_day(real_now(), drill) + timedelta(days=2)
    await move(drill, at(drill, day, 20))
    lottery = await lottery_batch(drill, quantity=1)  # drawn at 22:00
    headers = await signed_in(drill, phone(5))
    await drill.call("POST", ENTRIES.format(lottery["id"]), headers=headers, expect=201)
    await move(drill, at(drill, day, 22, 1))
    runner = drill.client.app[keys.JOBS]
    assert (await runner.run_now(BY_NAME["lottery_draw"])).rows == 1
    await send(drill)
    (queued,) = await rows(drill)
    assert (queued["status"], drill.sms.messages) == ("queued", [])
    await move(drill, at(drill, day + timedelta(days=1), 8, 0, 30))
    await send(drill)
    (sent,) = await rows(drill)
    assert sent["status"] == "sent" and [m.phone for m in drill.sms.messages] == [phone(5)]


# --- reminders ------------------------------------------------------------------------------


async def test_reminders_come_due_3_days_and_1_day_before_an_unused_voucher_expires(
    drill: Api,
) -> None:
    day = festival_day(real_now(), drill) + timedelta(days=2)
    await move(drill, at(drill, day, 10))
    batch = await drill.create_batch(per_resident_limit=2, valid_days=7)  # expire day+7 10:00
    alice = await signed_in(drill, phone(1))  # two vouchers: one message for both
    bob = await signed_in(drill, phone(2))  # uses his: no reminder
    carol = await signed_in(drill, phone(3))  # stops reminders
    for headers in (alice, alice, carol):
        await claim(drill, batch["id"], headers)
    await claim(drill, batch["id"], drill.auth("resident", "city-resident"))  # no phone
    shop = await drill.merchant()
    for _ in range(2):
        await drill.redeem(shop, await claim(drill, batch["id"], bob), 20000)
    await drill.call("PUT", PREFERENCES, json={"sms_reminders": False}, headers=carol, expect=200)

    async def reminders() -> list[str]:
        return [m.text for m in drill.sms.messages if m.phone == phone(1)]

    # Before 08:00 three days before the expiry day: nothing queued yet.
    await move(drill, at(drill, day + timedelta(days=4), 7, 59))
    await send(drill)
    assert await rows(drill) == []
    await move(drill, at(drill, day + timedelta(days=4), 8, 0, 30))
    await send(drill)
    expiry_day = day + timedelta(days=7)
    expected = f"您有2张消费券将于{expiry_day.month}月{expiry_day.day}日到期（最早10:00）"
    assert [expected in t for t in await reminders()] == [True]
    # Later that day and the next, nothing more.
    await move(drill, at(drill, day + timedelta(days=4), 18))
    await send(drill)
    await move(drill, at(drill, day + timedelta(days=5), 12))
    await send(drill)
    assert len(await reminders()) == 1
    # The day before: the second.
    await move(drill, at(drill, day + timedelta(days=6), 9))
    await send(drill)
    assert [expected in t for t in await reminders()] == [True, True]
    # The expiry day itself: none.
    await move(drill, at(drill, day + timedelta(days=7), 8, 30))
    await send(drill)
    assert len(drill.sms.messages) == 2
    sent = await rows(drill)
    assert [(m["kind"], m["status"], m["dedupe_key"].split(":")[0]) for m in sent] == [
        ("expiry_reminder", "sent", "expiry3"),
        ("expiry_reminder", "sent", "expiry1"),
    ]


async def test_at_most_two_reminders_reach_a_person_a_day(api: Api) -> None:
    """Vouchers expiring on three days: a reminder held over from the day before (the quiet
    hours) and the day's 1-day reminder go; the day's 3-day reminder is skipped."""
    d = api.clock.now().astimezone(api.settings.tz).date() + timedelta(days=5)  # day D
    person = await signed_in(api, phone(1))
    codes = {}
    for expires_on in (d + timedelta(days=1), d + timedelta(days=2), d + timedelta(days=3)):
        valid_days = (expires_on - api.clock.now().astimezone(api.settings.tz).date()).days
        batch = await api.create_batch(valid_days=valid_days)
        codes[expires_on] = await claim(api, batch["id"], person)

    # D-1: the 3-day reminder for D+2 is queued, and the gateway is down till the evening.
    api.sms.failing = ConnectionError("gateway unreachable")
    api.clock.at = at(api, d - timedelta(days=1), 20, 30)
    await send(api)
    api.sms.failing = None
    api.clock.at = at(api, d - timedelta(days=1), 21, 30)  # its retry falls in the quiet hours
    await send(api)
    (held,) = await rows(api)
    assert (held["status"], held["attempts"]) == ("queued", 1)

    # D, 08:00: that one, the day's 1-day (D+1) and 3-day (D+3) reminders: two go.
    api.clock.at = at(api, d, 8)
    await send(api)
    sent = {m["dedupe_key"].split(":")[0] + ":" + m["dedupe_key"][-10:]: m for m in await rows(api)}
    assert {k: (m["status"], m["skip_reason"]) for k, m in sent.items()} == {
        f"expiry3:{d + timedelta(days=2)}": ("sent", None),
        f"expiry1:{d + timedelta(days=1)}": ("sent", None),
        f"expiry3:{d + timedelta(days=3)}": ("skipped", "daily_cap"),
    }
    assert len(api.sms.messages) == 2
    # The next day is a new day: its reminder goes.
    api.clock.at = at(api, d + timedelta(days=1), 8)
    await send(api)
    assert len(api.sms.messages) == 3
    expires = d + timedelta(days=2)
    assert f"您有1张消费券将于{expires.month}月{expires.day}日 10:00到期，请尽快使用。" in (
        api.sms.messages[-1].text
    )


async def test_a_person_who_stops_reminders_still_gets_lottery_results(api: Api) -> None:
    alice, bob = await signed_in(api, phone(1)), await signed_in(api, phone(2))
    batch = await api.create_batch(valid_days=4)  # claimed 05-06 10:00, expires 05-10 10:00
    lottery = await lottery_batch(api, quantity=1)
    for headers in (alice, bob):
        await claim(api, batch["id"], headers)
        await api.call("POST", ENTRIES.format(lottery["id"]), headers=headers, expect=201)
    await api.call("PUT", PREFERENCES, json={"sms_reminders": False}, headers=alice, expect=200)
    api.clock.advance(hours=2)
    await api.call(
        "POST", f"/api/v1/admin/batches/{lottery['id']}/draw", headers=api.bureau, expect=200
    )
    await send(api)
    assert sorted(m.phone for m in api.sms.messages) == [phone(1), phone(2)]  # the results

    api.clock.at = at(api, date(2020, 5, 7), 8)  # 3 days before 05-10
    await send(api)
    assert [m.phone for m in api.sms.messages[2:]] == [phone(2)]
    # Bob stops them after his 1-day reminder was queued (and held by a failing gateway).
    api.clock.at = at(api, date(2020, 5, 9), 8)
    api.sms.failing = ConnectionError("gateway unreachable")
    await send(api)
    api.sms.failing = None
    await api.call("PUT", PREFERENCES, json={"sms_reminders": False}, headers=bob, expect=200)
    api.clock.advance(minutes=5)
    await send(api)
    assert len(api.sms.messages) == 3
    (stopped,) = await rows(api, "dedupe_key LIKE 'expiry1:%'")
    assert (stopped["status"], stopped["skip_reason"]) == ("skipped", "opted_out")
    assert not await rows(
        api,
        "person = (SELECT person FROM residents WHERE phone_masked ="
        " '139****0001') AND kind = 'expiry_reminder'",
    )


# --- failures and retries -------------------------------------------------------------------


async def test_a_failing_gateway_loses_nothing_and_is_retried_with_backoff(api: Api) -> None:
    start = api.clock.now()
    await enqueue(api, "application:1", phone(1))
    api.sms.failing = ConnectionError("gateway unreachable")
    retries = []
    for attempt in range(1, messages.MAX_ATTEMPTS + 1):
        result = await send(api)
        assert result.outcome == "failed" and "gateway unreachable" in (result.error or "")
        (row,) = await rows(api)
        assert row["attempts"] == attempt
        if attempt < messages.MAX_ATTEMPTS:
            assert (row["status"], row["provider_message_id"]) == ("queued", None)
            retries.append(row["next_attempt_at"] - api.clock.now())
            api.clock.at = row["next_attempt_at"] - timedelta(seconds=1)
            await send(api)  # not due yet: no attempt
            assert (await rows(api))[0]["attempts"] == attempt
            api.clock.at = row["next_attempt_at"]
    assert retries == [timedelta(minutes=m) for m in (1, 2, 4, 8, 16, 32, 60)]
    (row,) = await rows(api)
    assert (row["status"], row["last_error"]) == ("failed", "ConnectionError: gateway unreachable")
    assert row["phone_enc"] is None  # done with: its phone erased
    assert api.clock.now() - start < timedelta(hours=3)
    assert api.sms.calls == messages.MAX_ATTEMPTS and api.sms.messages == []

    # Another fails twice, then the gateway is back: sent once, its id recorded once.
    await enqueue(api, "application:2", phone(2))
    for _ in range(2):
        await send(api)
        api.clock.advance(minutes=5)
    api.sms.failing = None
    assert (await send(api)).outcome == "succeeded"
    await send(api)
    (row,) = await rows(api, "dedupe_key = 'application:2'")
    assert (row["status"], row["attempts"]) == ("sent", 3)
    assert [(m.phone, m.provider_id) for m in api.sms.messages] == [
        (phone(2), row["provider_message_id"])
    ]


async def test_an_undeliverable_number_fails_at_once(api: Api) -> None:
    await enqueue(api, "application:1", phone(1))
    api.sms.failing = Undeliverable("isv.MOBILE_NUMBER_ILLEGAL")
    await send(api)
    (row,) = await rows(api)
    assert (row["status"], row["attempts"]) == ("failed", 1)
    assert row["last_error"] == "Undeliverable: isv.MOBILE_NUMBER_ILLEGAL"


# --- two senders, and a sender that dies ----------------------------------------------------


class Gateway:
    """A gateway that keeps each message once per key (as Aliyun's OutId lets it) and, while
    `held` is set, accepts the first `hold` messages and answers them only when released."""

    def __init__(self, *, hold: int = 0) -> None:
        self.accepted: dict[str, tuple[str, str]] = {}  # key → (phone, provider id)
        self.calls: list[str] = []
        self.hold = hold
        self.holding = asyncio.Event()
        self.release = asyncio.Event()

    async def send_message(self, phone: str, text: str, *, key: str | None = None) -> str:
        assert key is not None
        self.calls.append(key)
        if key not in self.accepted:
            self.accepted[key] = (phone, f"gw-{len(self.accepted) + 1}")
        if len(self.calls) <= self.hold:
            if len(self.calls) == self.hold:
                self.holding.set()
            await self.release.wait()
        return self.accepted[key][1]


class KeylessGateway:
    """A gateway that takes no key: every call is a message delivered."""

    def __init__(self) -> None:
        self.delivered: list[str] = []
        self.hang = True
        self.called = asyncio.Event()

    async def send_message(self, phone: str, text: str) -> str:
        self.delivered.append(phone)
        self.called.set()
        if self.hang:
            await asyncio.Event().wait()  # never answers: the sender dies waiting
        return f"kl-{len(self.delivered)}"


async def test_two_senders_at_once_never_send_one_message_twice(api: Api) -> None:
    for n in range(1, 6):
        await enqueue(api, f"application:{n}", phone(n))
    db, cipher = api.client.app[keys.DB], api.client.app[keys.PHONES]
    gateway = Gateway(hold=2)
    delivery = Delivery(sender=gateway, cipher=cipher, concurrency=2)
    first = started(messages.send_due(db, delivery, clock=api.clock, tz=api.settings.tz))
    await asyncio.wait_for(gateway.holding.wait(), 10)  # the first holds two leased messages
    second = await messages.send_due(
        db,
        Delivery(sender=gateway, cipher=cipher, concurrency=10),
        clock=api.clock,
        tz=api.settings.tz,
    )
    assert second.sent == 3  # the other three: never the two the first holds
    gateway.release.set()
    assert (await first).sent == 2
    assert sorted(gateway.calls) == sorted(gateway.accepted) and len(gateway.calls) == 5
    sent = await rows(api)
    assert [m["status"] for m in sent] == ["sent"] * 5
    assert {m["provider_message_id"] for m in sent} == {i for _, i in gateway.accepted.values()}


# Long enough for the test to kill the sender first (a call is given up after a lease), short
# enough to wait for.
LEASE_S = 1.5


async def test_a_dead_senders_messages_go_again_once_its_lease_runs_out(api: Api) -> None:
    """The sender dies after the gateway accepted a message and before the outbox recorded
    it: after the lease, the next pass sends it again. A gateway with keys keeps it once and
    answers the same id; one without keys delivers it twice (the documented limit)."""
    db, cipher, tz = api.client.app[keys.DB], api.client.app[keys.PHONES], api.settings.tz
    await enqueue(api, "application:1", phone(1))
    gateway = Gateway(hold=1)
    dying = started(
        messages.send_due(db, Delivery(gateway, cipher, lease_s=LEASE_S), clock=api.clock, tz=tz)
    )
    await asyncio.wait_for(gateway.holding.wait(), 10)
    dying.cancel()  # killed between the gateway's acceptance and the record
    with pytest.raises(asyncio.CancelledError):
        await dying
    (row,) = await rows(api)
    assert (row["status"], row["provider_message_id"]) == ("sending", None)
    await _lease_runs_out(api)
    again = Delivery(gateway, cipher)
    sent = await messages.send_due(db, again, clock=api.clock, tz=tz)
    assert sent.sent == 1 and gateway.calls == ["hyf-1", "hyf-1"]
    (row,) = await rows(api)
    assert (row["status"], row["attempts"]) == ("sent", 2)
    assert row["provider_message_id"] == gateway.accepted["hyf-1"][1] == "gw-1"
    assert len(gateway.accepted) == 1  # the gateway kept it once

    # Without keys: at least once, so the message in flight is delivered twice.
    await enqueue(api, "application:2", phone(2))
    keyless = KeylessGateway()
    dying = started(
        messages.send_due(db, Delivery(keyless, cipher, lease_s=LEASE_S), clock=api.clock, tz=tz)
    )
    await asyncio.wait_for(keyless.called.wait(), 10)
    dying.cancel()
    with pytest.raises(asyncio.CancelledError):
        await dying
    await _lease_runs_out(api)
    keyless.hang = False
    assert (await messages.send_due(db, Delivery(keyless, cipher), clock=api.clock, tz=tz)).sent
    assert keyless.delivered == [phone(2), phone(2)]
    (row,) = await rows(api, "dedupe_key = 'application:2'")
    assert (row["status"], row["provider_message_id"]) == ("sent", "kl-2")


async def _lease_runs_out(api: Api) -> None:
    """Until no lease of the outbox is still running (leases are in the database's time)."""
    for _ in range(200):
        (left,) = await sql(
            api, "SELECT count(*) AS n FROM messages WHERE lease_until >= clock_timestamp()"
        )
        if left["n"] == 0:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"a lease of {LEASE_S} s did not run out in 10 s")
