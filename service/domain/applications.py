"""Joining (商户报名): a business applies with a phone proved by an SMS code; the bureau
approves (the merchant is created, audited, in the decision's transaction) or rejects, once.

Race-proof where it matters: two pending applications of one credit code cannot both exist
(the exclusion constraint merchant_applications_one_pending), and two reviews of one
application take turns on its row, so exactly one decides and the other is already_reviewed.
A merchant made by the bureau while an application of the same credit code is pending is
caught at approval, where merchants_credit_code_key makes a second merchant impossible.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from service.db import Conn, Database
from service.domain import audit, merchants, messages
from service.domain.context import Context
from service.domain.phones import PhoneCipher
from service.errors import DomainError, ErrorCode, not_found
from service.vocabulary import APPLICATION_DECISION, APPLICATION_DECISIONS

DISTRICT = "槐荫区"  # the festival's district: an application names no other


def _already_merchant() -> DomainError:
    return DomainError(
        ErrorCode.DUPLICATE_APPLICATION,
        "a festival merchant has this credit code already",
        {"credit_code": ["Already a festival merchant."]},
    )


async def submit(tx: Conn, data: dict[str, Any], *, now: datetime) -> asyncpg.Record:
    """The application (`id`, `status`), in the caller's transaction: the one that spends the
    applicant's SMS code, so a refused application leaves the code unspent."""
    if await tx.fetchval("credit_code_is_merchant", credit_code=data["credit_code"]):
        raise _already_merchant()
    row = await tx.fetchrow(
        "insert_application",
        name=data["name"],
        credit_code=data["credit_code"],
        category=data["category"],
        district=data.get("district", DISTRICT),
        address=data["address"],
        street=data["street"],
        lat=data.get("lat"),
        lng=data.get("lng"),
        hours=data.get("hours"),
        contact_phone=data["contact_phone"],
        account_name=data["account_name"],
        account_no=data["account_no"],
        now=now,
    )
    assert row is not None
    return row


async def applications(db: Database, status: str | None, *, limit: int) -> list[asyncpg.Record]:
    return await db.fetch("list_applications", status=status, limit=limit)


@dataclass(frozen=True)
class Decided:
    application: asyncpg.Record
    # The SMS the applicant is sent: nothing secret in it (no api key).
    message: str


async def review(
    ctx: Context, application_id: int, *, decision: str, note: str, phones: PhoneCipher
) -> Decided:
    """Approve (creating the merchant with the application's details and bank account) or
    reject a pending application; the decision, the merchant, their audit entries and the
    applicant's message (in the SMS outbox, its phone sealed with `phones`) stand or fall
    together."""
    async with ctx.db.transaction() as tx:
        before = await tx.fetchrow("lock_application", application_id=application_id)
        if before is None:
            raise not_found("application")
        if before["status"] != "submitted":
            raise DomainError(
                ErrorCode.ALREADY_REVIEWED,
                "this application has been decided",
                {"status": before["status"], "reviewed_by": before["reviewed_by"]},
            )
        merchant_id = None
        if decision == "approve":
            if await tx.fetchval("credit_code_is_merchant", credit_code=before["credit_code"]):
                raise _already_merchant()
            # The api key made here is never shown: the merchant collects its own with an SMS
            # code to this phone (POST /auth/merchant-key), so no key travels by SMS.
            merchant, _ = await merchants.create_merchant(ctx, merchant_data(before), tx=tx)
            merchant_id = merchant["id"]
        after = await tx.fetchrow(
            "decide_application",
            application_id=application_id,
            status=APPLICATION_DECISIONS[decision],
            by=ctx.actor.name,
            now=ctx.now,
            note=note,
            merchant_id=merchant_id,
        )
        assert after is not None  # pending under our lock
        await audit.append_row_change(
            tx,
            ctx,
            action="merchant_application.review",
            target=f"merchant_applications/{application_id}",
            before=before,
            after=after,
        )
        message = decision_message(after)
        await queue_decision_sms(
            tx,
            application_id,
            phone=after["contact_phone"],
            text=message,
            now=ctx.now,
            phones=phones,
        )
    return Decided(after, message)


def merchant_data(application: Any) -> dict[str, Any]:
    """What create_merchant takes, from an application: its details, its verified phone as
    the contact phone, and its bank account as the payments code stores it."""
    return {
        name: application[name]
        for name in (
            "name",
            "category",
            "credit_code",
            "district",
            "address",
            "contact_phone",
            "account_name",
            "account_no",
            "street",
            "lat",
            "lng",
            "hours",
        )
    }


def decision_message(application: Any) -> str:
    """The SMS telling the applicant the decision, and on approval how to sign in: the
    merchant id, and to collect the api key at the cashier page with the application's
    phone. No secret: anyone reading it still needs an SMS code to that phone."""
    name = application["name"]
    if application["status"] == "approved":
        return (
            f"【春暖槐荫消费节】{name}：您的商户报名已通过审核，商户编号 {application['merchant_id']}。"
            "请打开收银台页面（/cashier），点“领取密钥”，输入商户编号和报名手机号，"
            "凭短信验证码领取 API 密钥后登录。"
        )
    return (
        f"【春暖槐荫消费节】{name}：很抱歉，您的商户报名未通过审核。原因：{application['note']}。"
        "可修改后重新报名，如有疑问请咨询槐荫区商务局。"
    )


async def queue_decision_sms(
    tx: Conn,
    application_id: int,
    *,
    phone: str,
    text: str,
    now: datetime,
    phones: PhoneCipher,
) -> None:
    """The decision's SMS in the outbox (API.md, "Messages": the application decision), in the
    decision's own transaction, once per application; the send_messages job sends it. A
    rejection's note may be long: the SMS carries as much as one message holds."""
    if len(text) > messages.MAX_TEXT:
        text = text[: messages.MAX_TEXT - 1] + "…"
    await messages.enqueue(
        tx,
        kind=APPLICATION_DECISION,
        dedupe_key=f"application:{application_id}",
        text=text,
        now=now,
        phone=phone,
        cipher=phones,
    )
