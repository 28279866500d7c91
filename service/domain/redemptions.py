"""Redemption (核销) at the checkout, exactly once, and its reversal on the same business day.

Checkouts that arrive together are settled in one transaction (RedemptionCombiner, like the
claims). It first takes an advisory lock on each (merchant, key), in sorted order: a request
with a key already in flight waits there until that one commits, then replays the stored
answer (or refuses a different body). The vouchers are locked in id order while they are
checked and redeemed; redemptions, vouchers, ledger events and every key with its answer are
written in one statement; and the partial unique index `redemptions_one_completed_per_voucher`
guarantees at most one completed redemption per voucher even if that reasoning were wrong.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from typing import Any

import asyncpg

from service.answers import as_text
from service.combiner import Combiner
from service.db import Database
from service.domain import ledger
from service.domain.codes import code_from_input
from service.errors import REFUSALS, DomainError, ErrorCode
from service.timefmt import business_day


def parse_code(qr_key: bytes, value: str) -> str:
    code = code_from_input(qr_key, value)
    if code is None:
        raise DomainError(
            ErrorCode.NOT_FOUND, "no such voucher: check the code, or scan the QR code again"
        )
    return code


def refusal(voucher: asyncpg.Record) -> ErrorCode | None:
    """Why this merchant cannot redeem this voucher now, as an error code; None if it can."""
    if voucher["merchant_status"] is None:
        raise DomainError(ErrorCode.FORBIDDEN, "this token's merchant does not exist")
    if voucher["merchant_status"] != "active":
        return ErrorCode.MERCHANT_INACTIVE
    if voucher["merchant_category"] != voucher["category"] or (
        voucher["has_merchant_list"] and not voucher["merchant_listed"]
    ):
        return ErrorCode.MERCHANT_NOT_ELIGIBLE
    if voucher["status"] == "redeemed":
        return ErrorCode.ALREADY_REDEEMED
    if voucher["status"] == "expired":
        return ErrorCode.EXPIRED
    return None


async def preview(
    db: Database, qr_key: bytes, *, merchant_id: int, value: str, now: datetime
) -> tuple[asyncpg.Record, ErrorCode | None]:
    """The voucher a cashier typed or scanned, and why this merchant cannot redeem it now
    (an error code), or None if it can."""
    code = parse_code(qr_key, value)
    voucher = await db.fetchrow("voucher_for_merchant", code=code, merchant_id=merchant_id, now=now)
    if voucher is None:
        raise DomainError(ErrorCode.NOT_FOUND, "no such voucher")
    return voucher, refusal(voucher)


def fingerprint(code: str, order_amount_fen: int, *, order_ref: str) -> bytes:
    canonical = json.dumps(
        {"code": code, "order_amount_fen": order_amount_fen, "order_ref": order_ref},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).digest()


IDEMPOTENCY_LOCK_NAMESPACE = 0x4B455953  # "KEYS"
CAP_LOCK_NAMESPACE = 0x43415053  # "CAPS": a capped merchant's day
MAX_CHECKOUTS_PER_TRANSACTION = 200
_RETRIES = 3


@dataclass(frozen=True)
class Checkout:
    """One redemption request, as the cashier sent it."""

    merchant_id: int
    key: str
    code: str
    order_amount_fen: int
    order_ref: str
    # When it happened, for a replayed checkout (the demo's days); None: the flush's moment.
    at: datetime | None = None

    @cached_property
    def fingerprint(self) -> bytes:
        return fingerprint(self.code, self.order_amount_fen, order_ref=self.order_ref)

    @property
    def lock_name(self) -> str:
        return f"{self.merchant_id}:{self.key}"


Answer = tuple[int, str]
# Writes a new redemption's answer (its JSON text, stored for its key) from its values: the
# presentation owns the shape, the domain stores the text in the statement that redeems.
Render = Callable[[dict[str, Any]], str]


async def redeem(
    db: Database,
    qr_key: bytes,
    *,
    merchant_id: int,
    key: str,
    value: str,
    order_amount_fen: int,
    order_ref: str,
    now: datetime,
    tz: Any,
    render: Render,
) -> Answer:
    """The HTTP status and JSON text of one redemption: byte for byte the same ones on every
    retry of its key. (The API combines concurrent checkouts; see RedemptionCombiner.)"""
    checkout = Checkout(merchant_id, key, parse_code(qr_key, value), order_amount_fen, order_ref)
    (outcome,) = await redeem_many(db, [checkout], now=now, tz=tz, render=render)
    if isinstance(outcome, DomainError):
        raise outcome
    return outcome


async def redeem_many(
    db: Database, checkouts: list[Checkout], *, now: datetime, tz: Any, render: Render
) -> list[Answer | DomainError]:
    """Settle many checkouts in one transaction (no two with the same merchant and key):
    each gets its answer (a stored one when its key was used before), or an error that is
    not stored (a key reused for another request, a merchant that does not exist). Each
    happens at its own `at` if it has one, at `now` otherwise."""
    for attempt in range(_RETRIES):
        try:
            return await _redeem_once(db, checkouts, now=now, tz=tz, render=render)
        except (asyncpg.IntegrityConstraintViolationError, asyncpg.DeadlockDetectedError):
            # Nothing was written; the constraint (or PostgreSQL's deadlock check) held.
            if attempt == _RETRIES - 1:
                raise
    raise AssertionError("unreachable")


async def _redeem_once(
    db: Database, checkouts: list[Checkout], *, now: datetime, tz: Any, render: Render
) -> list[Answer | DomainError]:
    outcomes: list[Answer | DomainError] = []
    completed = Completed()
    # Live checkouts all happen at the flush's moment; only the demo's replays have their own.
    today = business_day(now, tz)
    moments = [c.at or now for c in checkouts]
    days = [business_day(c.at, tz) if c.at else today for c in checkouts]
    async with db.transaction() as tx:
        await tx.fetchval(
            "lock_idempotency_keys",
            namespace=IDEMPOTENCY_LOCK_NAMESPACE,
            lock_names=[c.lock_name for c in checkouts],
        )
        rows = await tx.fetch(
            "redemptions_context",
            merchant_ids=[c.merchant_id for c in checkouts],
            keys=[c.key for c in checkouts],
            codes=[c.code for c in checkouts],
            moments=moments,
        )
        redeemed_now: set[int] = set()
        # Capped merchants' subsidy of the day so far (locked: exact across processes).
        capped = sorted(
            {
                (c.merchant_id, day)
                for c, r, day in zip(checkouts, rows, days, strict=True)
                if r["merchant_cap"]
            }
        )
        paid_today: dict[tuple[int, date], int] = {}
        if capped:
            await tx.execute(
                "lock_capped_merchants",
                namespace=CAP_LOCK_NAMESPACE,
                merchant_ids=[merchant for merchant, _ in capped],
            )
            paid_today = {
                (r["merchant_id"], r["day"]): r["subsidy_fen"]
                for r in await tx.fetch(
                    "merchants_subsidy_of_day",
                    merchant_ids=[merchant for merchant, _ in capped],
                    days=[day for _, day in capped],
                )
            }
        for checkout, row, at, day in zip(checkouts, rows, moments, days, strict=True):
            if row["status_code"] is not None:
                if bytes(row["fingerprint"]) != checkout.fingerprint:
                    outcomes.append(
                        DomainError(
                            ErrorCode.IDEMPOTENCY_KEY_REUSED,
                            "this Idempotency-Key was used for a different request",
                        )
                    )
                else:
                    outcomes.append((row["status_code"], row["response"]))
                continue
            context = dict(row)
            if context["id"] in redeemed_now:  # the same voucher earlier in this flush
                context["status"] = "redeemed"
            try:
                redemption = _decide(context, checkout, now=at)
                if row["merchant_cap"]:
                    _within_cap(
                        row["merchant_cap"],
                        paid_today,
                        merchant_day=(checkout.merchant_id, day),
                        discount=redemption["discount_fen"],
                    )
            except DomainError as refusal_:
                if refusal_.code == "forbidden":
                    outcomes.append(refusal_)
                    continue
                text = as_text(refusal_.body())
                completed.refuse(checkout, at, refusal_.status, text)
                outcomes.append((refusal_.status, text))
                continue
            text = render(redemption)
            redeemed_now.add(context["id"])
            completed.redeem(checkout, at, day, row, redemption["id"], text)
            outcomes.append((201, text))
        if completed.ids or completed.refused_keys:
            await tx.execute("complete_redemptions", **vars(completed))
    return outcomes


def _within_cap(
    cap: int,
    paid_today: dict[tuple[int, date], int],
    *,
    merchant_day: tuple[int, date],
    discount: int,
) -> None:
    """Refuse (merchant_cap_reached) a redemption that would take the merchant's subsidy of
    the business day past its cap; count it in otherwise."""
    paid = paid_today.get(merchant_day, 0)
    if paid + discount > cap:
        raise DomainError(
            ErrorCode.MERCHANT_CAP_REACHED,
            "this merchant has reached its daily subsidy cap",
            {"daily_subsidy_cap_fen": cap, "paid_today_fen": paid, "discount_fen": discount},
        )
    paid_today[merchant_day] = paid + discount


@dataclass
class Completed:
    """What a flush writes in one statement (`complete_redemptions`, whose parameters are
    these fields): a column per field, a redemption or a stored refusal per row."""

    moments: list[datetime] = field(default_factory=list)
    business_dates: list[date] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)
    voucher_ids: list[int] = field(default_factory=list)
    merchant_ids: list[int] = field(default_factory=list)
    batch_ids: list[int] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    order_amounts: list[int] = field(default_factory=list)
    discounts: list[int] = field(default_factory=list)
    order_refs: list[str] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    fingerprints: list[bytes] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)
    refused_merchant_ids: list[int] = field(default_factory=list)
    refused_keys: list[str] = field(default_factory=list)
    refused_fingerprints: list[bytes] = field(default_factory=list)
    refused_statuses: list[int] = field(default_factory=list)
    refused_answers: list[str] = field(default_factory=list)
    refused_moments: list[datetime] = field(default_factory=list)

    def redeem(
        self,
        checkout: Checkout,
        at: datetime,
        day: date,
        voucher: asyncpg.Record,
        id_: int,
        answer: str,
    ) -> None:
        self.moments.append(at)
        self.business_dates.append(day)
        self.ids.append(id_)
        self.voucher_ids.append(voucher["id"])
        self.merchant_ids.append(checkout.merchant_id)
        self.batch_ids.append(voucher["batch_id"])
        self.categories.append(voucher["category"])
        self.order_amounts.append(checkout.order_amount_fen)
        self.discounts.append(voucher["face_value_fen"])
        self.order_refs.append(checkout.order_ref)
        self.keys.append(checkout.key)
        self.fingerprints.append(checkout.fingerprint)
        self.answers.append(answer)

    def refuse(self, checkout: Checkout, at: datetime, status: int, answer: str) -> None:
        self.refused_moments.append(at)
        self.refused_merchant_ids.append(checkout.merchant_id)
        self.refused_keys.append(checkout.key)
        self.refused_fingerprints.append(checkout.fingerprint)
        self.refused_statuses.append(status)
        self.refused_answers.append(answer)


def _decide(context: dict[str, Any], checkout: Checkout, *, now: datetime) -> dict[str, Any]:
    """The redemption this merchant makes of this voucher for this order, if it may: its
    values as the stored row will hold them."""
    # First: nothing may be stored for a merchant that does not exist (its key row could not be).
    if context["merchant_status"] is None:
        raise DomainError(ErrorCode.FORBIDDEN, "this token's merchant does not exist")
    if context["id"] is None:
        raise DomainError(ErrorCode.NOT_FOUND, "no such voucher")
    reason = refusal(context)
    if reason is not None:
        raise DomainError(reason, REFUSALS[reason], {"code": checkout.code})
    if checkout.order_amount_fen < context["min_spend_fen"]:
        raise DomainError(
            ErrorCode.BELOW_MIN_SPEND,
            f"this voucher needs an order of at least {context['min_spend_fen']} fen",
            {
                "min_spend_fen": context["min_spend_fen"],
                "order_amount_fen": checkout.order_amount_fen,
            },
        )
    discount = context["face_value_fen"]
    # The values of the row the flush writes (a test checks the answer against a later read),
    # known before the write so that the answer is stored in the same statement.
    return {
        "id": context["next_id"],
        "code": checkout.code,
        "merchant_id": checkout.merchant_id,
        "category": context["category"],
        "order_amount_fen": checkout.order_amount_fen,
        "discount_fen": discount,
        "payable_fen": checkout.order_amount_fen - discount,
        "order_ref": checkout.order_ref,
        "status": "completed",
        "redeemed_at": now,
        "reversed_at": None,
        "reversal_reason": None,
    }


class RedemptionCombiner:
    """Combines the checkouts that arrive together in this process into shared transactions,
    as the claims do: a burst of redemptions costs a few commits, not one each. A key twice
    in one flush: the second waits for the next flush, where it finds the first's answer."""

    def __init__(
        self, db: Database, *, now: Callable[[], datetime], tz: Any, render: Render
    ) -> None:
        self.db, self.now, self.tz, self.render = db, now, tz, render
        self._combiner: Combiner[None, Checkout, Answer] = Combiner(
            "redemptions",
            self._flush,
            max_size=MAX_CHECKOUTS_PER_TRANSACTION,
            exclusive=lambda checkout: checkout.lock_name,
        )

    async def redeem(self, checkout: Checkout) -> Answer:
        return await self._combiner.submit(None, checkout)

    async def _flush(self, _: None, checkouts: list[Checkout]) -> list[Answer | DomainError]:
        return await redeem_many(self.db, checkouts, now=self.now(), tz=self.tz, render=self.render)

    async def close(self) -> None:
        await self._combiner.close()


async def get(db: Database, merchant_id: int, *, redemption_id: int) -> asyncpg.Record:
    """One of the merchant's redemptions; another merchant's is simply not found."""
    row = await db.fetchrow(
        "merchant_redemption", redemption_id=redemption_id, merchant_id=merchant_id
    )
    if row is None:
        raise DomainError(ErrorCode.NOT_FOUND, "no such redemption")
    return row


async def on_day(db: Database, merchant_id: int, *, day: date) -> list[asyncpg.Record]:
    return await db.fetch("merchant_redemptions_on_day", merchant_id=merchant_id, day=day)


async def by_key(db: Database, merchant_id: int, *, key: str) -> list[asyncpg.Record]:
    """The merchant's redemption made with this Idempotency-Key (a list of at most one)."""
    return await db.fetch("merchant_redemption_by_key", merchant_id=merchant_id, key=key)


async def reverse(
    db: Database, merchant_id: int, *, redemption_id: int, reason: str, now: datetime, tz: Any
) -> asyncpg.Record:
    """The reversed redemption; only its merchant (another's is not found), only on its
    business day (in `tz`) and before that day is settled, never after a clawback. Its
    subsidy goes back from the merchant's unsettled account to the festival's cost."""
    async with db.transaction() as tx:
        # The merchant's lock, as settlement takes it: a reversal never slips past it.
        await ledger.lock_merchants(tx, [merchant_id])
        current = await tx.fetchrow(
            "lock_redemption", redemption_id=redemption_id, merchant_id=merchant_id
        )
        if current is None:
            raise DomainError(ErrorCode.NOT_FOUND, "no such redemption")
        if current["clawed_back"]:
            raise DomainError(
                ErrorCode.ALREADY_CLAWED_BACK,
                "this redemption's subsidy was clawed back; it cannot be reversed",
            )
        if current["status"] != "completed":
            raise DomainError(ErrorCode.NOT_REDEEMED, "this redemption has already been reversed")
        if business_day(now, tz) != current["business_date"] or current["day_settled"]:
            raise DomainError(
                ErrorCode.REVERSAL_WINDOW_PASSED,
                "a redemption can only be reversed on the day it was made",
                {"business_date": current["business_date"].isoformat()},
            )
        row = await tx.fetchrow(
            "reverse_redemption", redemption_id=redemption_id, now=now, reason=reason
        )
        assert row is not None
    return row
