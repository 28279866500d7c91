"""Redemption (核销) at the checkout, exactly once, and its reversal on the same business day.

A redemption's transaction first takes an advisory lock on its (merchant, key): a second
request with the same key waits there until the first commits, then replays the stored answer
(or refuses a different body). The voucher row is locked while it is checked and redeemed, the
redemption and its stored answer are written in one statement, and the partial unique index
`redemptions_one_completed_per_voucher` guarantees at most one completed redemption per voucher
even if that reasoning were wrong. Five round trips in all: begin, lock, read, write, commit.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

import asyncpg

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
) -> tuple[int, str]:
    """The HTTP status and JSON text of this redemption: byte for byte the same ones on every
    retry of its key."""
    code = parse_code(qr_key, value)
    print_ = fingerprint(code, order_amount_fen, order_ref)
    async with db.transaction() as tx:
        await tx.execute("lock_idempotency_key", IDEMPOTENCY_LOCK_NAMESPACE, f"{merchant_id}:{key}")
        context = await tx.fetchrow("redemption_context", merchant_id, key, code, now)
        assert context is not None  # one row, whatever exists
        if context["status_code"] is not None:
            if bytes(context["fingerprint"]) != print_:
                raise DomainError(
                    "idempotency_key_reused",
                    "this Idempotency-Key was used for a different request",
                )
            return context["status_code"], context["response"]
        try:
            body = _decide(context, merchant_id, code, order_amount_fen, order_ref, now, tz)
        except DomainError as refused:
            if refused.code in ("forbidden", "unavailable"):
                raise
            text = _text(refused.body())
            await tx.execute("store_refusal", merchant_id, key, print_, refused.status, text, now)
            return refused.status, text
        text = _text(body)
        await tx.execute(
            "complete_redemption",
            body["id"],
            context["id"],
            merchant_id,
            context["batch_id"],
            context["category"],
            order_amount_fen,
            context["face_value_fen"],
            order_ref,
            key,
            now,
            business_day(now, tz),
            print_,
            text,
        )
    return 201, text


def _text(body: dict[str, Any]) -> str:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def _decide(
    context: asyncpg.Record,
    merchant_id: int,
    code: str,
    order_amount_fen: int,
    order_ref: str,
    now: datetime,
    tz: Any,
) -> dict[str, Any]:
    """The redemption's body if this merchant may redeem this voucher for this order."""
    if context["id"] is None:
        raise DomainError("not_found", "no such voucher")
    reason = refusal(context)
    if reason is not None:
        raise DomainError(reason, REASONS[reason], {"code": code})
    if order_amount_fen < context["min_spend_fen"]:
        raise DomainError(
            "below_min_spend",
            f"this voucher needs an order of at least {context['min_spend_fen']} fen",
            {"min_spend_fen": context["min_spend_fen"], "order_amount_fen": order_amount_fen},
        )
    discount = context["face_value_fen"]
    # The same shape as redemption_json of the stored row (tested), built before the write so
    # that the answer is stored in the same statement.
    return redemption_json(
        {
            "id": context["next_id"],
            "code": code,
            "merchant_id": merchant_id,
            "category": context["category"],
            "order_amount_fen": order_amount_fen,
            "discount_fen": discount,
            "payable_fen": order_amount_fen - discount,
            "order_ref": order_ref,
            "status": "completed",
            "redeemed_at": now,
            "reversed_at": None,
            "reversal_reason": None,
        },
        tz,
    )


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
