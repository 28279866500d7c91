"""Cash-out (套现) risk: the risk_scan rules, the bureau's review, holds and clawbacks.

The rules are set-based SQL (sql/queries/risk.sql), one statement each, so a day of a
hundred thousand redemptions is scanned in one pass per rule. A confirmed flag holds the
merchant's unpaid settlement lines (and any line written while it holds) until the bureau
releases it; a release may claw back the flagged redemptions' subsidy, which lands as a
negative adjustment on the merchant's next settlement line, never as an edit of a line.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

import asyncpg

from service.db import Conn, Database, rows_of
from service.domain import audit
from service.errors import DomainError, ErrorCode, not_found
from service.settings import RiskRules

DECISIONS = {"dismiss": "dismissed", "confirm": "confirmed"}


async def scan(tx: Conn, day: date, now: datetime, rules: RiskRules) -> int:
    """Every rule over one business day; returns the flags raised or refreshed."""
    touched = rows_of(
        await tx.execute(
            "risk_repeat_pair",
            day=day,
            now=now,
            min_vouchers=rules.repeat_min_vouchers,
            window_days=rules.repeat_window_days,
        )
    )
    touched += rows_of(
        await tx.execute(
            "risk_threshold_hugging",
            day=day,
            now=now,
            min_redemptions=rules.hug_min_redemptions,
            share_pct=rules.hug_share_pct,
            margin_pct=rules.hug_margin_pct,
        )
    )
    touched += rows_of(
        await tx.execute(
            "risk_burst",
            day=day,
            now=now,
            minutes=rules.burst_minutes,
            min_redemptions=rules.burst_min_redemptions,
            factor=rules.burst_factor,
        )
    )
    touched += rows_of(
        await tx.execute(
            "risk_reversal_churn",
            day=day,
            now=now,
            min_redemptions=rules.churn_min_redemptions,
            share_pct=rules.churn_share_pct,
        )
    )
    return touched


def flag_of(row: asyncpg.Record) -> dict[str, Any]:
    flag = dict(row)
    flag["evidence"] = json.loads(flag["evidence"])
    return flag


async def flags(
    db: Database, status: str | None, merchant_id: int | None, rule: str | None, limit: int
) -> list[dict[str, Any]]:
    rows = await db.fetch(
        "risk_flags", status=status, merchant_id=merchant_id, rule=rule, limit=limit
    )
    return [flag_of(r) for r in rows]


async def timeline(db: Database, flag_id: int, minutes: int) -> dict[str, Any]:
    """What the reviewer looks at: the merchant's redemptions per day for two weeks up to the
    flagged day, and per window on that day."""
    flag = await db.fetchrow("risk_flags_one", flag_id=flag_id)
    if flag is None:
        raise not_found("risk flag")
    where = {"merchant_id": flag["merchant_id"], "day": flag["date"]}
    return {
        "flag_id": flag_id,
        "merchant_id": flag["merchant_id"],
        "date": flag["date"],
        "window_minutes": minutes,
        "days": await db.fetch("risk_flag_days", days=14, **where),
        "windows": await db.fetch("risk_flag_windows", minutes=minutes, **where),
    }


async def _locked(tx: Conn, flag_id: int) -> dict[str, Any]:
    row = await tx.fetchrow("lock_risk_flag", flag_id=flag_id)
    if row is None:
        raise not_found("risk flag")
    return flag_of(row)


def _audited(flag: dict[str, Any]) -> dict[str, Any]:
    return {k: flag[k] for k in ("status", "reviewed_by", "note", "released_at", "released_by")}


async def review(
    db: Database, flag_id: int, decision: str, note: str, actor: audit.Actor, now: datetime
) -> tuple[dict[str, Any], int]:
    """Dismiss or confirm an open flag. Confirming holds the merchant's unpaid lines; returns
    the flag and the number of lines it put on hold."""
    async with db.transaction() as tx:
        before = await _locked(tx, flag_id)
        if before["status"] != "open":
            raise DomainError(
                ErrorCode.ALREADY_REVIEWED,
                "this flag has been reviewed",
                {"status": before["status"], "reviewed_by": before["reviewed_by"]},
            )
        await tx.execute(
            "review_risk_flag",
            flag_id=flag_id,
            status=DECISIONS[decision],
            by=actor.name,
            now=now,
            note=note,
        )
        held = 0
        if decision == "confirm":
            held = rows_of(
                await tx.execute("hold_settlement_lines", merchant_id=before["merchant_id"])
            )
        after = await _locked(tx, flag_id)
        await audit.append(
            tx,
            actor,
            "risk.review",
            f"risk_flags/{flag_id}",
            _audited(before),
            {**_audited(after), "lines_held": held},
            now,
        )
    return after, held


async def release(
    db: Database, flag_id: int, clawback: bool, note: str, actor: audit.Actor, now: datetime
) -> dict[str, Any]:
    """Ends a confirmed flag's hold (the merchant's held lines become payable unless another
    confirmed flag still holds them), clawing back the flagged subsidy if asked."""
    async with db.transaction() as tx:
        before = await _locked(tx, flag_id)
        if before["status"] != "confirmed" or before["released_at"] is not None:
            raise DomainError(
                ErrorCode.CONFLICT,
                "only a confirmed flag still holding can be released",
                {"status": before["status"], "released_at": audit.jsonable(before["released_at"])},
            )
        await tx.execute("release_risk_flag", flag_id=flag_id, by=actor.name, now=now)
        clawed: list[asyncpg.Record] = []
        if clawback:
            clawed = await tx.fetch(
                "claw_back",
                flag_id=flag_id,
                merchant_id=before["merchant_id"],
                redemption_ids=before["evidence"].get("redemption_ids") or [],
                now=now,
            )
        released = 0
        if not await tx.fetchval("merchant_on_hold", merchant_id=before["merchant_id"]):
            released = rows_of(
                await tx.execute("release_settlement_lines", merchant_id=before["merchant_id"])
            )
        after = await _locked(tx, flag_id)
        result = {
            "flag": after,
            "clawed_back_fen": sum(r["amount_fen"] for r in clawed),
            "clawed_back_redemptions": len(clawed),
            "lines_released": released,
        }
        await audit.append(
            tx,
            actor,
            "risk.release",
            f"risk_flags/{flag_id}",
            _audited(before),
            {**_audited(after), **{k: v for k, v in result.items() if k != "flag"}, "note": note},
            now,
        )
    return result
