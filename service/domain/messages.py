"""Messages (SMS, API.md "Where to spend, joining, several vouchers at once, messages"): the
outbox, the reminders that come due, and the sending that empties the outbox.

A message is written by `enqueue` (or `enqueue_lottery_results`) inside the transaction of
its cause, at most once per cause (its `dedupe_key`): rolled back with the cause, never
written twice. The send_messages job (jobs/messages.py) then, every minute:

- queues the day's expiry reminders (`queue_reminders`), once per festival day, at its first
  run from 08:00: a person's unused vouchers expiring 3 days later get one message (merged:
  "you have N vouchers expiring on 5月9日"), and those expiring the next day another; so a
  person gets at most one of each a day. A person of whom any account has stopped reminders
  gets none; a person with no phone (identity-platform accounts only) gets none.
- sends what is due (`send_due`), never from 21:00 to 08:00 festival time (the service
  clock's: the drill clock in a drill). What falls due in those hours (a draw at 22:00, a
  retry) is held and goes from 08:00. A lottery's results go out at the first runs after
  the draw, within a minute or two at the sender's pace; a draw after 21:00 (or whose
  sending runs past 21:00) reaches the rest of its entrants from 08:00.

Sending is at least once, recorded once. Each pass leases a few messages in one short
transaction (status `sending`, a lease token, and a lease that ends in the database's own
time, so every process agrees when it has run out); FOR UPDATE SKIP LOCKED and the lease
keep two senders off the same message. Then they are sent (at once, `concurrency` calls),
and those the provider accepted are recorded `sent` with its message ids, by one UPDATE that
only the lease's holder can make and only once.
A sender killed between the provider's acceptance and that record leaves the message
`sending`; when its lease runs out the next pass sends it again. To make that second send
harmless the sender is given the outbox row's key (`key=`, when its send_message takes
one), which real gateways accept for deduplication (Aliyun's OutId): the provider keeps the
message once and answers the same id. A provider without keys may then deliver such a
message twice: at most the messages that were in flight when a sender died (`concurrency`)
or whose call timed out after the provider accepted it. Nothing is ever lost: a message
leaves the outbox's live states only sent, failed after MAX_ATTEMPTS attempts (retried with
exponential backoff in between), or skipped with a reason.

The daily cap (REMINDERS_PER_PERSON_DAY reminders per person per festival day) is applied
when a reminder is first leased on a day: reminders over it are skipped (reason
`daily_cap`), not sent later. Leases take turns on an advisory lock, so two processes
cannot both let a person's third reminder through.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time as monotonic_time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import asyncpg

from service.clock import Clock
from service.db import Conn, Database, rows_of
from service.domain.phones import (
    PhoneCipher,
    PhoneKeyError,
    mask_phone,
    message_phone_binding,
    resident_phone_binding,
)
from service.timefmt import business_day, day_bounds
from service.vocabulary import (
    EXPIRY_REMINDER,
    MESSAGE_KINDS,
    QUIET_FROM,
    QUIET_UNTIL,
    REMINDER_LEAD_DAYS,
    REMINDERS_PER_PERSON_DAY,
)

log = logging.getLogger("festival.messages")

LEASE_NAMESPACE = 0x4D534753  # "MSGS": the advisory lock leases take turns on
MAX_ATTEMPTS = 8
BACKOFF_FIRST = timedelta(minutes=1)  # then doubling: 1, 2, 4 … minutes
BACKOFF_MAX = timedelta(hours=1)
# A run sends for at most this long (real time); the next due minute goes on from there.
RUN_BUDGET_S = 50.0
MAX_TEXT = 500
SIGNATURE = "【春暖槐荫消费节】"


class MessageSender(Protocol):
    """What sending needs of an SMS gateway: the provider's message id for each message.
    Optionally `send_message(phone, text, *, key)`: see the module's docstring."""

    async def send_message(self, phone: str, text: str) -> str: ...


class Undeliverable(Exception):
    """Raised by a sender for a message no retry will deliver (a number the provider
    refuses): failed at once instead of retried."""


@dataclass(frozen=True)
class Delivery:
    """How messages go out: the gateway, the phones' key, a lease's length (seconds; a
    provider call is given up after as long) and how many calls go at once."""

    sender: MessageSender
    cipher: PhoneCipher
    lease_s: float = 300.0
    concurrency: int = 16


def quiet(now: datetime, tz: Any) -> bool:
    """Whether `now` is in the quiet hours (21:00–08:00 festival time): nothing is sent."""
    at = now.astimezone(tz).time()
    return at >= QUIET_FROM or at < QUIET_UNTIL


def _check_text(text: str) -> str:
    if not 0 < len(text) <= MAX_TEXT:
        raise ValueError(f"a message's text is 1 to {MAX_TEXT} characters")
    return text


async def enqueue(
    tx: Conn,
    *,
    kind: str,
    dedupe_key: str,
    text: str,
    now: datetime,
    resident_id: int | None = None,
    phone: str | None = None,
    cipher: PhoneCipher | None = None,
    person: str | None = None,
) -> int | None:
    """A message in the outbox, written in `tx`, the transaction of its cause: to a resident
    (its phone, if it has one: else no message) or to a phone of its own (sealed with
    `cipher`, e.g. an applicant's). At most one per `dedupe_key` (e.g. `application:17`).
    Returns its id, or None when there is no phone or the cause already has its message."""
    if kind not in MESSAGE_KINDS:
        raise ValueError(f"unknown message kind {kind!r}")
    if (resident_id is None) == (phone is None):
        raise ValueError("a message goes to a resident or to a phone, one of them")
    _check_text(text)
    if phone is not None:
        if cipher is None:
            raise ValueError("a phone is sealed with the phones' cipher")
        message_id: int | None = await tx.fetchval(
            "enqueue_to_phone",
            dedupe_key=dedupe_key,
            kind=kind,
            phone_enc=cipher.seal(phone, bound_to=message_phone_binding(dedupe_key)),
            phone_masked=mask_phone(phone),
            person=person,
            text=text,
            now=now,
        )
        return message_id
    message_id = await tx.fetchval(
        "enqueue_to_resident",
        dedupe_key=dedupe_key,
        kind=kind,
        resident_id=resident_id,
        person=person,
        text=text,
        now=now,
    )
    return message_id


def _month_day(at: datetime, tz: Any) -> str:
    local = at.astimezone(tz)
    return f"{local.month}月{local.day}日"


def _hour_minute(at: datetime, tz: Any) -> str:
    return at.astimezone(tz).strftime("%H:%M")


def _title(title: str) -> str:
    return title if len(title) <= 60 else title[:59] + "…"


def lottery_texts(title: str, *, expires_at: datetime, tz: Any) -> tuple[str, str]:
    """The result messages of a draw: (won, not won)."""
    until = f"{_month_day(expires_at, tz)} {_hour_minute(expires_at, tz)}"
    won = f"{SIGNATURE}恭喜您在「{_title(title)}」摇号中签，消费券已放入券包，{until}前有效。"
    lost = f"{SIGNATURE}很遗憾，您未在「{_title(title)}」摇号中中签。感谢参与，更多消费券请留意券包页面。"
    return won, lost


async def enqueue_lottery_results(
    tx: Conn, batch_id: int, *, title: str, expires_at: datetime, now: datetime, tz: Any
) -> int:
    """Each entrant of the batch just drawn in `tx` (with a known phone) gets its result, in
    the draw's transaction. Returns how many messages were queued."""
    won, lost = lottery_texts(title, expires_at=expires_at, tz=tz)
    return rows_of(
        await tx.execute(
            "enqueue_lottery_results", batch_id=batch_id, won_text=won, lost_text=lost, now=now
        )
    )


def reminder_text(vouchers: int, *, first_expires_at: datetime, tz: Any) -> str:
    day, hour = _month_day(first_expires_at, tz), _hour_minute(first_expires_at, tz)
    when = f"将于{day} {hour}到期" if vouchers == 1 else f"将于{day}到期（最早{hour}）"
    return f"{SIGNATURE}您有{vouchers}张消费券{when}，请尽快使用。不需要到期提醒可在券包页关闭。"


async def queue_reminders(db: Database, *, now: datetime, tz: Any) -> int:
    """The day's expiry reminders, once per festival day, from 08:00 (before, they would only
    wait for it: queued then, the vouchers redeemed overnight would still be reminded of).
    Returns how many were queued by this call."""
    if quiet(now, tz):
        return 0
    today = business_day(now, tz)
    day_starts = day_bounds(today, tz)[0]
    queued = 0
    async with db.transaction() as tx:
        if await tx.fetchval("claim_reminder_day", day=today, now=now) is None:
            return 0  # queued by an earlier run (or another process right now)
        for lead in REMINDER_LEAD_DAYS:
            expiry_day = today + timedelta(days=lead)
            start, end = day_bounds(expiry_day, tz)
            # Vouchers claimed today are not reminded of on their first day.
            rows = await tx.fetch("due_reminders", from_=start, to=end, claimed_before=day_starts)
            if not rows:
                continue
            queued += rows_of(
                await tx.execute(
                    "insert_reminders",
                    dedupe_keys=[f"expiry{lead}:{r['person']}:{expiry_day}" for r in rows],
                    resident_ids=[r["resident_id"] for r in rows],
                    phones_masked=[r["phone_masked"] for r in rows],
                    persons=[r["person"] for r in rows],
                    texts=[
                        reminder_text(r["vouchers"], first_expires_at=r["first_expires_at"], tz=tz)
                        for r in rows
                    ],
                    now=now,
                )
            )
        await tx.execute("reminder_day_queued", day=today, queued=queued)
    return queued


@dataclass
class Sent:
    """What a sending pass did."""

    sent: int = 0
    retried: int = 0  # failed attempts queued again
    failed: int = 0  # failed for good
    skipped: int = 0
    held: bool = False  # stopped by the quiet hours
    errors: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return self.sent + self.retried + self.failed + self.skipped


@dataclass(frozen=True)
class _Leased:
    id: int
    key: str  # the provider's deduplication key: the row's id, nothing personal
    text: str
    attempts: int
    phone_enc: bytes
    bound_to: str


async def send_due(
    db: Database,
    delivery: Delivery,
    *,
    clock: Clock,
    tz: Any,
    budget_s: float = RUN_BUDGET_S,
) -> Sent:
    """Sends the outbox's due messages, a lease of `concurrency` at a time, until none is due,
    the quiet hours begin or the run's budget is spent."""
    outcome = Sent()
    with_key = accepts_key(delivery.sender)
    started = monotonic_time.monotonic()
    while monotonic_time.monotonic() - started < budget_s:
        now = clock.now()
        if quiet(now, tz):
            outcome.held = True
            break
        token, leased, found = await _lease(db, delivery, now=now, tz=tz, outcome=outcome)
        if not found:
            break
        done = await asyncio.gather(
            *(
                _deliver(db, delivery, m, token=token, clock=clock, tz=tz, with_key=with_key)
                for m in leased
            ),
            return_exceptions=True,
        )
        # Every call has ended before anything is raised: none is left running unowned. What
        # the provider accepted is recorded at once, in one statement; should that fail (the
        # database away), the messages keep their lease and go again when it runs out.
        accepted = [(m.id, r) for m, r in zip(leased, done, strict=True) if isinstance(r, str)]
        if accepted:
            recorded = await db.fetch(
                "record_sent",
                ids=[i for i, _ in accepted],
                provider_message_ids=[r for _, r in accepted],
                token=token,
                now=clock.now(),
            )
            outcome.sent += len(recorded)
            if len(recorded) < len(accepted):
                # Leases that ran out first: the passes that took them over record them.
                log.warning(
                    "%d messages sent after their lease ran out", len(accepted) - len(recorded)
                )
        for m, result in zip(leased, done, strict=True):
            if isinstance(result, Attempt):
                await _failed(db, m, token=token, attempt=result, outcome=outcome)
        outcome.held = outcome.held or any(r is None for r in done)
        for result in done:
            if isinstance(result, BaseException):
                raise result
    return outcome


def accepts_key(sender: MessageSender) -> bool:
    """Whether the sender's send_message takes the outbox row's key (`key=`)."""
    try:
        params = inspect.signature(sender.send_message).parameters
    except (TypeError, ValueError):
        return False
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return True
    key = params.get("key")
    return key is not None and key.kind in (
        inspect.Parameter.KEYWORD_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
    )


async def _lease(
    db: Database, delivery: Delivery, *, now: datetime, tz: Any, outcome: Sent
) -> tuple[uuid.UUID, list[_Leased], bool]:
    """Up to `concurrency` due messages leased to this pass (and the reminders over the cap,
    opted out, or without a phone, skipped). Returns the lease's token, the leased messages,
    and whether any message was due at all."""
    token = uuid.uuid4()
    today = business_day(now, tz)
    async with db.transaction() as tx:
        await tx.execute("lease_turn", namespace=LEASE_NAMESPACE)
        candidates = await tx.fetch("lease_candidates", now=now, limit=delivery.concurrency)
        if not candidates:
            return token, [], False
        persons = sorted({c["person"] for c in candidates if c["kind"] == EXPIRY_REMINDER})
        admitted = {
            r["person"]: r["admitted"]
            for r in await tx.fetch("reminders_admitted", day=today, persons=persons)
        }
        lease, admit, skip = [], [], []
        for c in candidates:
            reason = None
            if not c["has_phone"]:
                reason = "no_phone"
            elif c["opted_out"]:
                reason = "opted_out"
            elif c["kind"] == EXPIRY_REMINDER and c["admitted_on"] != today:
                if admitted.get(c["person"], 0) >= REMINDERS_PER_PERSON_DAY:
                    reason = "daily_cap"
                else:
                    admitted[c["person"]] = admitted.get(c["person"], 0) + 1
                    admit.append(c["id"])
            if reason is None:
                lease.append(c["id"])
            else:
                skip.append((c["id"], reason))
        if skip:
            await tx.execute(
                "skip_messages",
                ids=[i for i, _ in skip],
                reasons=[r for _, r in skip],
                now=now,
            )
            outcome.skipped += len(skip)
        rows: list[asyncpg.Record] = []
        if lease:
            rows = await tx.fetch(
                "lease_messages",
                ids=lease,
                admit_ids=admit,
                day=today,
                token=token,
                lease_s=delivery.lease_s,
                now=now,
            )
    return token, [_leased(r) for r in rows], True


def _leased(row: asyncpg.Record) -> _Leased:
    if row["phone_enc"] is not None:
        blob, bound_to = row["phone_enc"], message_phone_binding(row["dedupe_key"])
    else:
        blob, bound_to = row["resident_phone_enc"], resident_phone_binding(row["resident_id"])
    return _Leased(
        id=row["id"],
        key=f"hyf-{row['id']}",
        text=row["text"],
        attempts=row["attempts"],
        phone_enc=bytes(blob),
        bound_to=bound_to,
    )


def backoff(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt: 1, 2, 4 … minutes, at most an hour."""
    return min(BACKOFF_FIRST * 2 ** max(0, min(attempts - 1, 16)), BACKOFF_MAX)


@dataclass(frozen=True)
class Attempt:
    """A failed attempt: when, why, and whether it was the last."""

    at: datetime
    error: str
    final: bool


async def _deliver(
    db: Database,
    delivery: Delivery,
    m: _Leased,
    *,
    token: uuid.UUID,
    clock: Clock,
    tz: Any,
    with_key: bool,
) -> str | Attempt | None:
    """The provider's message id, or the failed attempt, or None: not sent (the quiet hours
    began during the pass; the message is queued again as it was)."""
    now = clock.now()
    if quiet(now, tz):
        await db.execute("release_message", id=m.id, token=token, now=now)
        return None
    try:
        phone = delivery.cipher.open(m.phone_enc, bound_to=m.bound_to)
    except PhoneKeyError:
        error = "the phone does not open with this FESTIVAL_PHONE_KEY"
        log.error("message %s: %s", m.id, error)
        return Attempt(now, error, final=m.attempts >= MAX_ATTEMPTS)
    masked = mask_phone(phone)
    send: Callable[..., Any] = delivery.sender.send_message
    try:
        async with asyncio.timeout(delivery.lease_s):
            if with_key:
                provider_id = await send(phone, m.text, key=m.key)
            else:
                provider_id = await send(phone, m.text)
        if not isinstance(provider_id, str) or not provider_id.strip():
            raise ValueError("the provider answered no message id")
    except Exception as err:  # the provider's failure, whatever it is: the message stays
        error = _safe_error(err, phone, masked)
        log.warning("message %s to %s: attempt %d failed: %s", m.id, masked, m.attempts, error)
        final = isinstance(err, Undeliverable) or m.attempts >= MAX_ATTEMPTS
        return Attempt(clock.now(), error, final)
    return provider_id.strip()[:200]


def _safe_error(err: Exception, phone: str, masked: str) -> str:
    """The provider's error as stored and logged: the phone masked should it echo it."""
    text = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
    return text.replace(phone, masked)[:500]


async def _failed(
    db: Database, m: _Leased, *, token: uuid.UUID, attempt: Attempt, outcome: Sent
) -> None:
    await db.fetchval(
        "record_failure",
        id=m.id,
        token=token,
        final=attempt.final,
        retry_at=attempt.at + backoff(m.attempts),
        error=attempt.error,
        now=attempt.at,
    )
    if attempt.final:
        outcome.failed += 1
    else:
        outcome.retried += 1
    outcome.errors.append(attempt.error)


# --- the residents' preference ----------------------------------------------------------


@dataclass(frozen=True)
class Preferences:
    sms_reminders: bool
    phone: str | None  # masked: where the person's messages go, if anywhere


async def preferences(db: Database, sub: str) -> Preferences:
    row = await db.fetchrow("resident_preferences", sub=sub)
    if row is None:  # an account not seen before: the defaults
        return Preferences(sms_reminders=True, phone=None)
    return Preferences(sms_reminders=row["sms_reminders"], phone=row["phone"])


async def set_reminders(db: Database, sub: str, *, sms_reminders: bool) -> Preferences:
    """Reminders on or off for the account and every other account of its person."""
    async with db.transaction() as tx:
        await tx.execute("set_sms_reminders", sub=sub, sms_reminders=sms_reminders)
    return await preferences(db, sub)


# --- the bureau's view ---------------------------------------------------------------------


@dataclass(frozen=True)
class Outbox:
    counts: list[asyncpg.Record]
    items: list[asyncpg.Record]
    next_before_id: int | None


async def outbox(
    db: Database,
    status: str | None,
    *,
    kind: str | None,
    limit: int,
    before_id: int | None,
) -> Outbox:
    """Counts by status and kind, and a page of messages newest first (phones masked)."""
    counts = await db.fetch("message_counts", status=status, kind=kind)
    items = await db.fetch(
        "list_messages", status=status, kind=kind, before_id=before_id, limit=limit + 1
    )
    more = len(items) > limit
    items = items[:limit]
    return Outbox(counts, items, items[-1]["id"] if more and items else None)
