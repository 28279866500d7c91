"""Redemption (核销) at the checkout, exactly once, and its reversal on the same business day.

Checkouts that arrive together are settled in one transaction (RedemptionCombiner, like the
claims). It first takes an advisory lock on each (merchant, key), in sorted order: a request
with a key already in flight waits there until that one commits, then replays the stored
answer (or refuses a different body). The vouchers are locked in id order while they are
checked and redeemed; redemptions, vouchers, ledger events and every key with its answer are
written in one statement; and the partial unique index `redemptions_one_completed_per_voucher`
guarantees at most one completed redemption per voucher even if that reasoning were wrong.

A checkout of several vouchers (API.md: `codes`, or a resident's checkout QR) is one request
of the same flush: one key, its vouchers locked with everyone else's in id order, all of them
redeemed or none (the refusal names the voucher), each its own redemption with its own ledger
transfer, and one answer stored for the key. Reversing one of its items reverses them all.
A cashier's liveness is read in the flush's context statement: a removed cashier's request is
refused (401) without a statement more.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cached_property
from typing import Any

import asyncpg

from service.answers import as_text
from service.combiner import Combiner
from service.db import Database
from service.domain import ledger
from service.domain.codes import checkout_from_qr, checkout_qr_string, code_from_input
from service.errors import REFUSALS, DomainError, ErrorCode
from service.timefmt import business_day, iso
from service.vocabulary import CHECKOUT_QR_VALID_S, printable


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
    voucher = await db.fetchrow(
        "vouchers_for_merchant", codes=[code], merchant_id=merchant_id, now=now
    )
    if voucher is None:
        raise DomainError(ErrorCode.NOT_FOUND, "no such voucher")
    return voucher, refusal(voucher)


def fingerprint(
    code: str | tuple[str, ...],
    order_amount_fen: int,
    *,
    order_ref: str,
    metadata: str | None = None,
) -> bytes:
    """What makes two requests with one key the same request: the vouchers (one `code`, or a
    checkout's codes in order, however given: typed or scanned), the order and the note. A
    request without a note fingerprints as it did before notes existed (stored keys stay valid)."""
    request: dict[str, Any] = {"order_amount_fen": order_amount_fen, "order_ref": order_ref}
    request["code" if isinstance(code, str) else "codes"] = code
    if metadata is not None:
        request["metadata"] = metadata
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
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
    code: str  # the voucher of a checkout by `code` ("" for a checkout of `several`)
    order_amount_fen: int
    order_ref: str
    # When it happened, for a replayed checkout (the demo's days); None: the flush's moment.
    at: datetime | None = None
    # The cashier whose token sent it (None: the merchant's owner login); checked live.
    cashier_id: int | None = None
    metadata: str | None = None
    # A checkout by `codes` or by a resident's checkout QR: its vouchers, all redeemed or none,
    # answered as {checkout_id, items, discount_fen}. None: one voucher by `code`.
    several: tuple[str, ...] | None = None
    # A scanned checkout QR is refused (expired) after this moment, unless its key replays.
    qr_expires_at: datetime | None = None

    @property
    def codes(self) -> tuple[str, ...]:
        return self.several if self.several is not None else (self.code,)

    @cached_property
    def fingerprint(self) -> bytes:
        vouchers = self.several if self.several is not None else self.code
        return fingerprint(
            vouchers, self.order_amount_fen, order_ref=self.order_ref, metadata=self.metadata
        )

    @property
    def lock_name(self) -> str:
        return f"{self.merchant_id}:{self.key}"


Answer = tuple[int, str]
# Writes a new redemption's answer (its JSON text, stored for its key) from its values, or a
# checkout's of several vouchers (values with `items`): the presentation owns the shapes, the
# domain stores the text in the statement that redeems.
Render = Callable[[dict[str, Any]], str]


def parse_codes(qr_key: bytes, values: list[str]) -> tuple[str, ...]:
    """Typed codes (or single-voucher QR strings) of one checkout → canonical codes: an unknown
    one is not found (named), the same voucher twice is not a valid request."""
    codes = tuple(parse_code(qr_key, value) for value in values)
    if len(set(codes)) != len(codes):
        raise DomainError(
            ErrorCode.INVALID_REQUEST,
            "the same voucher is listed twice",
            {"codes": ["Each voucher may be listed once."]},
        )
    return codes


def parse_code(qr_key: bytes, value: str) -> str:
    code = code_from_input(qr_key, value)
    if code is None:
        raise DomainError(
            ErrorCode.NOT_FOUND,
            "no such voucher: check the code, or scan the QR code again",
            {"code": printable(value.strip())[:200]},
        )
    return code


def parse_checkout_qr(qr_key: bytes, value: str) -> tuple[tuple[str, ...], datetime]:
    """A resident's scanned checkout QR → its codes and its expiry; a forged or damaged one
    is not found, as a forged voucher QR is."""
    found = checkout_from_qr(qr_key, value)
    if found is None:
        raise DomainError(
            ErrorCode.NOT_FOUND, "no such checkout QR code: scan it again, or type the codes"
        )
    codes, expiry = found
    if len(set(codes)) != len(codes):  # never signed so; refused before any lookup all the same
        raise DomainError(
            ErrorCode.INVALID_REQUEST,
            "the same voucher is listed twice",
            {"qr": ["Each voucher may be listed once."]},
        )
    return tuple(codes), datetime.fromtimestamp(expiry, UTC)


def qr_expired(expires_at: datetime, tz: Any) -> DomainError:
    return DomainError(
        ErrorCode.EXPIRED,
        "this checkout QR code has expired: ask the customer to show a new one",
        {"qr_expires_at": iso(expires_at, tz)},
    )


def checkout_qr(
    qr_key: bytes, vouchers: list[asyncpg.Record], *, codes: list[str], now: datetime
) -> dict[str, Any]:
    """The signed QR string of a resident's own active vouchers of one category (`vouchers`,
    as found for `codes`), valid CHECKOUT_QR_VALID_S from `now`, with what the resident sees."""
    found = {v["code"]: v for v in vouchers}
    for code in codes:
        voucher = found.get(code)
        if voucher is None:
            raise DomainError(ErrorCode.NOT_FOUND, "no such voucher in your wallet", {"code": code})
        if voucher["status"] != "active":
            reason = (
                ErrorCode.ALREADY_REDEEMED
                if voucher["status"] == "redeemed"
                else (ErrorCode.EXPIRED)
            )
            raise DomainError(reason, REFUSALS[reason], {"code": code})
    categories = {found[code]["category"] for code in codes}
    if len(categories) > 1:
        raise DomainError(
            ErrorCode.INVALID_REQUEST,
            "one checkout takes vouchers of one category",
            {
                "codes": [
                    f"Vouchers of one category only (these are {', '.join(sorted(categories))})."
                ]
            },
        )
    expires = int(now.timestamp()) + CHECKOUT_QR_VALID_S
    return {
        "qr": checkout_qr_string(qr_key, codes, expires_at=expires),
        "codes": codes,
        "category": categories.pop(),
        "count": len(codes),
        "discount_fen": sum(found[code]["face_value_fen"] for code in codes),
        "min_spend_fen": sum(found[code]["min_spend_fen"] for code in codes),
        "expires_at": datetime.fromtimestamp(expires, UTC),
        "valid_for_s": CHECKOUT_QR_VALID_S,
    }


async def preview_many(
    db: Database, *, merchant_id: int, codes: tuple[str, ...], now: datetime
) -> list[tuple[asyncpg.Record, ErrorCode | None]]:
    """Each voucher of a checkout as the cashier previews it, in order, and why this merchant
    cannot redeem it now (None if it can); an unknown one is not found (named)."""
    rows = {
        r["code"]: r
        for r in await db.fetch(
            "vouchers_for_merchant", codes=list(codes), merchant_id=merchant_id, now=now
        )
    }
    found = []
    for code in codes:
        row = rows.get(code)
        if row is None:
            raise DomainError(ErrorCode.NOT_FOUND, "no such voucher", {"code": code})
        found.append((row, refusal(row)))
    return found


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
    # The context has one row per voucher: a checkout's rows are rows[start:start + its count].
    flat = [(c, at, code) for c, at in zip(checkouts, moments, strict=True) for code in c.codes]
    async with db.transaction() as tx:
        await tx.fetchval(
            "lock_idempotency_keys",
            namespace=IDEMPOTENCY_LOCK_NAMESPACE,
            lock_names=[c.lock_name for c in checkouts],
        )
        rows = await tx.fetch(
            "redemptions_context",
            merchant_ids=[c.merchant_id for c, _, _ in flat],
            keys=[c.key for c, _, _ in flat],
            codes=[code for _, _, code in flat],
            moments=[at for _, at, _ in flat],
            cashier_ids=[c.cashier_id for c, _, _ in flat],
        )
        spans, start = [], 0
        for checkout in checkouts:
            spans.append(rows[start : start + len(checkout.codes)])
            start += len(checkout.codes)
        redeemed_now: set[int] = set()
        # Capped merchants' subsidy of the day so far (locked: exact across processes).
        capped = sorted(
            {
                (c.merchant_id, day)
                for c, mine, day in zip(checkouts, spans, days, strict=True)
                if mine[0]["merchant_cap"]
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
        for checkout, mine, at, day in zip(checkouts, spans, moments, days, strict=True):
            row = mine[0]
            if not row["caller_live"]:
                outcomes.append(
                    DomainError(ErrorCode.UNAUTHORIZED, "this cashier account has been removed")
                )
                continue
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
            contexts = [dict(r) for r in mine]
            for context in contexts:
                if context["id"] in redeemed_now:  # the same voucher earlier in this flush
                    context["status"] = "redeemed"
            try:
                if checkout.several is None:
                    answer = _decide(contexts[0], checkout, now=at)
                    items = [answer]
                else:
                    items = _decide_several(contexts, checkout, now=at, tz=tz)
                    answer = _checkout_answer(checkout, items)
                if row["merchant_cap"]:
                    _within_cap(
                        row["merchant_cap"],
                        paid_today,
                        merchant_day=(checkout.merchant_id, day),
                        discount=sum(item["discount_fen"] for item in items),
                    )
            except DomainError as refusal_:
                if refusal_.code == "forbidden":
                    outcomes.append(refusal_)
                    continue
                text = as_text(refusal_.body())
                completed.refuse(checkout, at, refusal_.status, text)
                outcomes.append((refusal_.status, text))
                continue
            text = render(answer)
            for n, (item, voucher) in enumerate(zip(items, mine, strict=True)):
                redeemed_now.add(voucher["id"])
                # The key and its answer are stored once, with the checkout's first item.
                completed.redeem(checkout, at, day, voucher, item, text if n == 0 else None)
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
    these fields): a column per field, a redemption or a stored refusal per row. A checkout of
    several vouchers is a row per voucher, its answer on the first (None on the others)."""

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
    cashier_ids: list[int | None] = field(default_factory=list)
    metadatas: list[str | None] = field(default_factory=list)
    checkout_ids: list[int | None] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    fingerprints: list[bytes] = field(default_factory=list)
    answers: list[str | None] = field(default_factory=list)
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
        redemption: dict[str, Any],
        answer: str | None,
    ) -> None:
        self.moments.append(at)
        self.business_dates.append(day)
        self.ids.append(redemption["id"])
        self.voucher_ids.append(voucher["id"])
        self.merchant_ids.append(checkout.merchant_id)
        self.batch_ids.append(voucher["batch_id"])
        self.categories.append(voucher["category"])
        self.order_amounts.append(redemption["order_amount_fen"])
        self.discounts.append(redemption["discount_fen"])
        self.order_refs.append(checkout.order_ref)
        self.cashier_ids.append(checkout.cashier_id)
        self.metadatas.append(checkout.metadata)
        self.checkout_ids.append(redemption["checkout_id"])
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
    return _item(context, checkout, order_fen=checkout.order_amount_fen, checkout_id=None, now=now)


def _item(
    context: dict[str, Any],
    checkout: Checkout,
    *,
    order_fen: int,
    checkout_id: int | None,
    now: datetime,
) -> dict[str, Any]:
    """A redemption's values, known before the write so that its answer is stored in the same
    statement (a test checks the answer against a later read)."""
    discount = context["face_value_fen"]
    return {
        "id": context["next_id"],
        "code": context["code"],
        "merchant_id": checkout.merchant_id,
        "category": context["category"],
        "order_amount_fen": order_fen,
        "discount_fen": discount,
        "payable_fen": order_fen - discount,
        "order_ref": checkout.order_ref,
        "status": "completed",
        "redeemed_at": now,
        "reversed_at": None,
        "reversal_reason": None,
        "checkout_id": checkout_id,
        "cashier_id": checkout.cashier_id,
        "cashier_name": context["cashier_name"],
        "metadata": checkout.metadata,
    }


def _decide_several(
    contexts: list[dict[str, Any]], checkout: Checkout, *, now: datetime, tz: Any
) -> list[dict[str, Any]]:
    """The redemptions of a checkout of several vouchers, all or none: the first voucher this
    merchant may not redeem is the refusal (named in `details.code`); then the order must reach
    the sum of their thresholds. The order is split over the items in proportion to their
    thresholds (each item's share reaches its own threshold, the shares sum to the order)."""
    if contexts[0]["merchant_status"] is None:
        raise DomainError(ErrorCode.FORBIDDEN, "this token's merchant does not exist")
    if checkout.qr_expires_at is not None and now > checkout.qr_expires_at:
        raise qr_expired(checkout.qr_expires_at, tz)
    for context, code in zip(contexts, checkout.codes, strict=True):
        if context["id"] is None:
            raise DomainError(ErrorCode.NOT_FOUND, "no such voucher", {"code": code})
        reason = refusal(context)
        if reason is not None:
            raise DomainError(reason, REFUSALS[reason], {"code": code})
    thresholds = [context["min_spend_fen"] for context in contexts]
    if checkout.order_amount_fen < sum(thresholds):
        raise DomainError(
            ErrorCode.BELOW_MIN_SPEND,
            f"these vouchers together need an order of at least {sum(thresholds)} fen",
            {"min_spend_fen": sum(thresholds), "order_amount_fen": checkout.order_amount_fen},
        )
    checkout_id = min(context["next_id"] for context in contexts)
    shares = split_order(checkout.order_amount_fen, thresholds)
    return [
        _item(context, checkout, order_fen=share, checkout_id=checkout_id, now=now)
        for context, share in zip(contexts, shares, strict=True)
    ]


def split_order(order_fen: int, weights: list[int]) -> list[int]:
    """`order_fen` in integer shares proportional to `weights` (each > 0) that sum to it
    exactly: the floors, then a fen more to the largest remainders (the earlier item on a tie).
    Each share is at least floor(order × weight ÷ total), so an order that reaches the total
    of the thresholds gives every item at least its own."""
    total = sum(weights)
    shares = [order_fen * w // total for w in weights]
    by_remainder = sorted(range(len(weights)), key=lambda i: (-(order_fen * weights[i] % total), i))
    for i in by_remainder[: order_fen - sum(shares)]:
        shares[i] += 1
    return shares


def _checkout_answer(checkout: Checkout, items: list[dict[str, Any]]) -> dict[str, Any]:
    discount = sum(item["discount_fen"] for item in items)
    return {
        "checkout_id": items[0]["checkout_id"],
        "items": items,
        "discount_fen": discount,
        "order_amount_fen": checkout.order_amount_fen,
        "payable_fen": checkout.order_amount_fen - discount,
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
    subsidy goes back from the merchant's unsettled account to the festival's cost. An item of
    a checkout of several vouchers reverses the whole checkout, each item's transfer unwound."""
    async with db.transaction() as tx:
        # The merchant's lock, as settlement takes it: a reversal never slips past it.
        await ledger.lock_merchants(tx, [merchant_id])
        items = await tx.fetch(
            "lock_checkout", redemption_id=redemption_id, merchant_id=merchant_id
        )
        current = next((r for r in items if r["id"] == redemption_id), None)
        if current is None:
            raise DomainError(ErrorCode.NOT_FOUND, "no such redemption")
        clawed = [r["id"] for r in items if r["clawed_back"]]
        if clawed:
            raise DomainError(
                ErrorCode.ALREADY_CLAWED_BACK,
                "this redemption's subsidy was clawed back; it cannot be reversed"
                if clawed == [redemption_id]
                else "a redemption of this checkout was clawed back; it cannot be reversed",
                {"redemption_ids": clawed},
            )
        if current["status"] != "completed":
            raise DomainError(ErrorCode.NOT_REDEEMED, "this redemption has already been reversed")
        if business_day(now, tz) != current["business_date"] or current["day_settled"]:
            raise DomainError(
                ErrorCode.REVERSAL_WINDOW_PASSED,
                "a redemption can only be reversed on the day it was made",
                {"business_date": current["business_date"].isoformat()},
            )
        rows = await tx.fetch(
            "reverse_redemptions",
            redemption_ids=[r["id"] for r in items if r["status"] == "completed"],
            now=now,
            reason=reason,
        )
    return next(r for r in rows if r["id"] == redemption_id)
