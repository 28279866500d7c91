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
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

import asyncpg

from service.combiner import Combiner
from service.db import Database
from service.domain.codes import code_from_input
from service.errors import DomainError
from service.timefmt import business_day, iso

REASONS = {
    "merchant_inactive": "this merchant is suspended from the festival",
    "merchant_not_eligible": "this voucher cannot be used at this merchant",
    "already_redeemed": "this voucher has already been used",
    "expired": "this voucher has expired",
}


def redemption_json(row: asyncpg.Record | dict[str, Any], tz: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "code": row["code"],
        "merchant_id": row["merchant_id"],
        "category": row["category"],
        "order_amount_fen": row["order_amount_fen"],
        "discount_fen": row["discount_fen"],
        "payable_fen": row["payable_fen"],
        "order_ref": row["order_ref"],
        "status": row["status"],
        "redeemed_at": iso(row["redeemed_at"], tz),
        "reversed_at": iso(row["reversed_at"], tz),
        "reversal_reason": row["reversal_reason"],
    }


def parse_code(qr_key: bytes, value: str) -> str:
    code = code_from_input(qr_key, value)
    if code is None:
        raise DomainError("not_found", "no such voucher: check the code, or scan the QR code again")
    return code


def refusal(voucher: asyncpg.Record) -> str | None:
    """Why this merchant cannot redeem this voucher now, as an error code; None if it can."""
    if voucher["merchant_status"] is None:
        raise DomainError("forbidden", "this token's merchant does not exist")
    if voucher["merchant_status"] != "active":
        return "merchant_inactive"
    if voucher["merchant_category"] != voucher["category"] or (
        voucher["has_merchant_list"] and not voucher["merchant_listed"]
    ):
        return "merchant_not_eligible"
    if voucher["status"] == "redeemed":
        return "already_redeemed"
    if voucher["status"] == "expired":
        return "expired"
    return None


async def preview(
    db: Database, qr_key: bytes, merchant_id: int, value: str, now: datetime, tz: Any
) -> dict[str, Any]:
    code = parse_code(qr_key, value)
    voucher = await db.fetchrow("voucher_for_merchant", code, merchant_id, now)
    if voucher is None:
        raise DomainError("not_found", "no such voucher")
    reason = refusal(voucher)
    body = {
        "code": voucher["code"],
        "category": voucher["category"],
        "face_value_fen": voucher["face_value_fen"],
        "min_spend_fen": voucher["min_spend_fen"],
        "status": voucher["status"],
        "expires_at": iso(voucher["expires_at"], tz),
        "redeemable": reason is None,
    }
    if reason is not None:
        body["reason"] = reason
        body["reason_message"] = REASONS[reason]
    return body


def fingerprint(code: str, order_amount_fen: int, order_ref: str) -> bytes:
    canonical = json.dumps(
        {"code": code, "order_amount_fen": order_amount_fen, "order_ref": order_ref},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).digest()


IDEMPOTENCY_LOCK_NAMESPACE = 0x4B455953  # "KEYS"
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

    @cached_property
    def fingerprint(self) -> bytes:
        return fingerprint(self.code, self.order_amount_fen, self.order_ref)

    @property
    def lock_name(self) -> str:
        return f"{self.merchant_id}:{self.key}"


Answer = tuple[int, str]


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
) -> Answer:
    """The HTTP status and JSON text of one redemption: byte for byte the same ones on every
    retry of its key. (The API combines concurrent checkouts; see RedemptionCombiner.)"""
    checkout = Checkout(merchant_id, key, parse_code(qr_key, value), order_amount_fen, order_ref)
    (outcome,) = await redeem_many(db, [checkout], now, tz)
    if isinstance(outcome, DomainError):
        raise outcome
    return outcome


async def redeem_many(
    db: Database, checkouts: list[Checkout], now: datetime, tz: Any
) -> list[Answer | DomainError]:
    """Settle many checkouts in one transaction (no two with the same merchant and key):
    each gets its answer (a stored one when its key was used before), or an error that is
    not stored (a key reused for another request, a merchant that does not exist)."""
    for attempt in range(_RETRIES):
        try:
            return await _redeem_once(db, checkouts, now, tz)
        except (asyncpg.IntegrityConstraintViolationError, asyncpg.DeadlockDetectedError):
            # Nothing was written; the constraint (or PostgreSQL's deadlock check) held.
            if attempt == _RETRIES - 1:
                raise
    raise AssertionError("unreachable")


async def _redeem_once(
    db: Database, checkouts: list[Checkout], now: datetime, tz: Any
) -> list[Answer | DomainError]:
    outcomes: list[Answer | DomainError] = []
    done: list[tuple[Checkout, asyncpg.Record, dict[str, Any], str]] = []
    refused: list[tuple[Checkout, int, str]] = []
    async with db.transaction() as tx:
        await tx.fetchval(
            "lock_idempotency_keys", IDEMPOTENCY_LOCK_NAMESPACE, [c.lock_name for c in checkouts]
        )
        rows = await tx.fetch(
            "redemptions_context",
            [c.merchant_id for c in checkouts],
            [c.key for c in checkouts],
            [c.code for c in checkouts],
            now,
        )
        redeemed_now: set[int] = set()
        for checkout, row in zip(checkouts, rows, strict=True):
            if row["status_code"] is not None:
                if bytes(row["fingerprint"]) != checkout.fingerprint:
                    outcomes.append(
                        DomainError(
                            "idempotency_key_reused",
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
                body = _decide(context, checkout, now, tz)
            except DomainError as refusal_:
                if refusal_.code == "forbidden":
                    outcomes.append(refusal_)
                    continue
                text = _text(refusal_.body())
                refused.append((checkout, refusal_.status, text))
                outcomes.append((refusal_.status, text))
                continue
            text = _text(body)
            redeemed_now.add(context["id"])
            done.append((checkout, row, body, text))
            outcomes.append((201, text))
        if done or refused:
            await tx.execute(
                "complete_redemptions",
                [b["id"] for _, _, b, _ in done],
                [r["id"] for _, r, _, _ in done],
                [c.merchant_id for c, _, _, _ in done],
                [r["batch_id"] for _, r, _, _ in done],
                [r["category"] for _, r, _, _ in done],
                [c.order_amount_fen for c, _, _, _ in done],
                [r["face_value_fen"] for _, r, _, _ in done],
                [c.order_ref for c, _, _, _ in done],
                [c.key for c, _, _, _ in done],
                [c.fingerprint for c, _, _, _ in done],
                [t for _, _, _, t in done],
                [c.merchant_id for c, _, _ in refused],
                [c.key for c, _, _ in refused],
                [c.fingerprint for c, _, _ in refused],
                [status for _, status, _ in refused],
                [t for _, _, t in refused],
                now,
                business_day(now, tz),
            )
    return outcomes


def _text(body: dict[str, Any]) -> str:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def _decide(context: dict[str, Any], checkout: Checkout, now: datetime, tz: Any) -> dict[str, Any]:
    """The redemption's body if this merchant may redeem this voucher for this order."""
    # First: nothing may be stored for a merchant that does not exist (its key row could not be).
    if context["merchant_status"] is None:
        raise DomainError("forbidden", "this token's merchant does not exist")
    if context["id"] is None:
        raise DomainError("not_found", "no such voucher")
    reason = refusal(context)
    if reason is not None:
        raise DomainError(reason, REASONS[reason], {"code": checkout.code})
    if checkout.order_amount_fen < context["min_spend_fen"]:
        raise DomainError(
            "below_min_spend",
            f"this voucher needs an order of at least {context['min_spend_fen']} fen",
            {
                "min_spend_fen": context["min_spend_fen"],
                "order_amount_fen": checkout.order_amount_fen,
            },
        )
    discount = context["face_value_fen"]
    # The same shape as redemption_json of the stored row (tested), built before the write so
    # that the answer is stored in the same statement.
    return redemption_json(
        {
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
        },
        tz,
    )


class RedemptionCombiner:
    """Combines the checkouts that arrive together in this process into shared transactions,
    as the claims do: a burst of redemptions costs a few commits, not one each. A key twice
    in one flush: the second waits for the next flush, where it finds the first's answer."""

    def __init__(self, db: Database, now: Callable[[], datetime], tz: Any) -> None:
        self.db, self.now, self.tz = db, now, tz
        self._combiner: Combiner[None, Checkout, Answer] = Combiner(
            "redemptions",
            self._flush,
            max_size=MAX_CHECKOUTS_PER_TRANSACTION,
            exclusive=lambda checkout: checkout.lock_name,
        )

    async def redeem(self, checkout: Checkout) -> Answer:
        return await self._combiner.submit(None, checkout)

    async def _flush(self, _: None, checkouts: list[Checkout]) -> list[Answer | DomainError]:
        return await redeem_many(self.db, checkouts, self.now(), self.tz)

    async def close(self) -> None:
        await self._combiner.close()


async def reverse(
    db: Database, merchant_id: int, redemption_id: int, reason: str, now: datetime, tz: Any
) -> dict[str, Any]:
    async with db.transaction() as tx:
        current = await tx.fetchrow("lock_redemption", redemption_id)
        if current is None:
            raise DomainError("not_found", "no such redemption")
        if current["merchant_id"] != merchant_id:
            raise DomainError("forbidden", "only the redeeming merchant may reverse it")
        if current["status"] != "completed":
            raise DomainError("not_redeemed", "this redemption has already been reversed")
        if business_day(current["redeemed_at"], tz) != business_day(now, tz):
            raise DomainError(
                "reversal_window_passed",
                "a redemption can only be reversed on the day it was made",
                {"business_date": current["business_date"].isoformat()},
            )
        row = await tx.fetchrow("reverse_redemption", redemption_id, now, reason)
        assert row is not None
    return redemption_json(row, tz)
