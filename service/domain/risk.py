"""Cash-out (套现) risk: the risk_scan rules, the bureau's review, holds and clawbacks.

The rules are set-based SQL (sql/queries/risk.sql), one statement each, so a day of a
hundred thousand redemptions is scanned in one pass per rule. A confirmed flag holds the
merchant until the bureau releases it: holds are derived from the flags (and suspension),
never stored, and exports read them under the merchant's lock (service/domain/ledger.py). A
release may claw back the flagged redemptions' subsidy: ledger transfers from the merchant's
payable balance, never an edit of what was written.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import asyncpg

from service.db import Conn, Database, rows_of
from service.domain import audit, ledger
from service.domain.context import Context
from service.errors import DomainError, ErrorCode, not_found
from service.settings import RiskRules
from service.timefmt import business_day
from service.vocabulary import (
    BURST,
    REPEAT_PAIR,
    REVERSAL_CHURN,
    REVIEW_DECISIONS,
    RISK_RULES,
    THRESHOLD_HUGGING,
)

log = logging.getLogger(__name__)

# A flag not open cannot be reviewed: why, as its error.
NOT_REVIEWABLE = {
    "provisional": (
        ErrorCode.FLAG_PROVISIONAL,
        "this flag was raised on part of a day; the full day's scan decides it first",
    ),
    "withdrawn": (ErrorCode.FLAG_WITHDRAWN, "the full day's figures no longer support this flag"),
}


@dataclass(frozen=True)
class Rule:
    """One risk_scan rule, declared once (zulip's CountStat): its finding query
    `risk_find_<name>` in sql/queries/risk.sql, the settings it reads, and whether it is a
    ratio, whose flags can fall as a day goes on (provisional until the full day decides)."""

    name: str
    ratio: bool
    settings: Callable[[RiskRules], dict[str, int]]


RULES: tuple[Rule, ...] = (
    Rule(
        REPEAT_PAIR,
        ratio=False,
        settings=lambda r: {
            "min_vouchers": r.repeat_min_vouchers,
            "window_days": r.repeat_window_days,
        },
    ),
    Rule(
        THRESHOLD_HUGGING,
        ratio=True,
        settings=lambda r: {
            "min_redemptions": r.hug_min_redemptions,
            "share_pct": r.hug_share_pct,
            "margin_pct": r.hug_margin_pct,
        },
    ),
    Rule(
        BURST,
        ratio=False,
        settings=lambda r: {
            "minutes": r.burst_minutes,
            "min_redemptions": r.burst_min_redemptions,
            "factor": r.burst_factor,
        },
    ),
    Rule(
        REVERSAL_CHURN,
        ratio=True,
        settings=lambda r: {
            "min_redemptions": r.churn_min_redemptions,
            "share_pct": r.churn_share_pct,
        },
    ),
)
# The registry runs exactly the rules the vocabulary names (the API's `rule` filter).
assert tuple(rule.name for rule in RULES) == RISK_RULES


@dataclass
class Scanned:
    flags: int = 0  # raised, refreshed or withdrawn
    failures: list[str] = field(default_factory=list)  # one line per rule that failed


async def scan(tx: Conn, day: date, *, now: datetime, rules: RiskRules, full_day: bool) -> Scanned:
    """Every rule over one business day, each in a savepoint of its own: one rule failing
    never stops the others. `full_day`: the day is over, so ratio flags are decided (open or
    withdrawn); else they are provisional."""
    result = Scanned()
    for rule in RULES:
        try:
            async with tx.raw.transaction():
                result.flags += await _raise(
                    tx, rule, day=day, now=now, rules=rules, full_day=full_day
                )
        except asyncpg.PostgresError as exc:
            log.exception("risk rule %s for %s failed", rule.name, day)
            result.failures.append(f"{rule.name}: {type(exc).__name__}: {exc}")
    return result


async def _raise(
    tx: Conn, rule: Rule, *, day: date, now: datetime, rules: RiskRules, full_day: bool
) -> int:
    found = await tx.fetch(f"risk_find_{rule.name}", day=day, **rule.settings(rules))
    flags = rows_of(
        await tx.execute(
            "raise_risk_flags",
            rule=rule.name,
            day=day,
            now=now,
            ratio=rule.ratio,
            full_day=full_day,
            merchant_ids=[f["merchant_id"] for f in found],
            subjects=[f["subject"] for f in found],
            scores=[f["score"] for f in found],
            evidence=[f["evidence"] for f in found],
        )
    )
    if rule.ratio and full_day:
        flags += rows_of(await tx.execute("risk_withdraw_provisional", rule=rule.name, day=day))
    return flags


def flag_of(row: asyncpg.Record) -> dict[str, Any]:
    flag = dict(row)
    flag["evidence"] = json.loads(flag["evidence"])
    return flag


async def flags(
    db: Database, status: str | None, *, merchant_id: int | None, rule: str | None, limit: int
) -> list[dict[str, Any]]:
    rows = await db.fetch(
        "risk_flags", status=status, merchant_id=merchant_id, rule=rule, limit=limit
    )
    return [flag_of(r) for r in rows]


async def timeline(db: Database, flag_id: int, *, minutes: int) -> dict[str, Any]:
    """What the reviewer looks at: the merchant's redemptions per day for two weeks up to the
    flagged day, and per window on that day; and the orders its evidence names."""
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
        "redemptions": await db.fetch("risk_flag_redemptions", flag_id=flag_id),
    }


async def _locked(tx: Conn, flag_id: int) -> dict[str, Any]:
    row = await tx.fetchrow("lock_risk_flag", flag_id=flag_id)
    if row is None:
        raise not_found("risk flag")
    return flag_of(row)


def _audited(flag: dict[str, Any]) -> dict[str, Any]:
    return {k: flag[k] for k in ("status", "reviewed_by", "note", "released_at", "released_by")}


async def review(
    ctx: Context,
    flag_id: int,
    *,
    decision: str,
    note: str,
) -> dict[str, Any]:
    """Dismiss or confirm an open flag. A confirmed flag holds the merchant (no payout) until
    released: the hold is the flag itself, nothing else is written."""
    async with ctx.db.transaction() as tx:
        flag = await tx.fetchrow("risk_flags_one", flag_id=flag_id)
        if flag is None:
            raise not_found("risk flag")
        # The merchant's lock first (as exports take it), then the flag's.
        await ledger.lock_merchants(tx, [flag["merchant_id"]])
        before = await _locked(tx, flag_id)
        if before["status"] in NOT_REVIEWABLE:
            code, message = NOT_REVIEWABLE[before["status"]]
            raise DomainError(code, message, {"status": before["status"]})
        if before["status"] != "open":
            raise DomainError(
                ErrorCode.ALREADY_REVIEWED,
                "this flag has been reviewed",
                {"status": before["status"], "reviewed_by": before["reviewed_by"]},
            )
        await tx.execute(
            "review_risk_flag",
            flag_id=flag_id,
            status=REVIEW_DECISIONS[decision],
            by=ctx.actor.name,
            now=ctx.now,
            note=note,
        )
        after = await _locked(tx, flag_id)
        await audit.append(
            tx,
            actor=ctx.actor,
            action="risk.review",
            target=f"risk_flags/{flag_id}",
            before=_audited(before),
            after=_audited(after),
            now=ctx.now,
        )
    return after


async def release(
    ctx: Context,
    flag_id: int,
    *,
    clawback: bool,
    note: str,
) -> dict[str, Any]:
    """Ends a confirmed flag's hold (the merchant's payable money is paid by the next export
    unless another hold stands), clawing back the flagged subsidy if asked: each completed
    redemption of the evidence, never reversed, once, from the merchant's payable balance
    (below 0 it is a receivable that later earnings net against)."""
    async with ctx.db.transaction() as tx:
        flag = await tx.fetchrow("risk_flags_one", flag_id=flag_id)
        if flag is None:
            raise not_found("risk flag")
        await ledger.lock_merchants(tx, [flag["merchant_id"]])
        before = await _locked(tx, flag_id)
        if before["status"] != "confirmed" or before["released_at"] is not None:
            raise DomainError(
                ErrorCode.CONFLICT,
                "only a confirmed flag still holding can be released",
                {"status": before["status"], "released_at": audit.jsonable(before["released_at"])},
            )
        await tx.execute("release_risk_flag", flag_id=flag_id, by=ctx.actor.name, now=ctx.now)
        clawed: list[asyncpg.Record] = []
        if clawback:
            clawed = await ledger.claw_back(
                tx,
                flag_id=flag_id,
                merchant_id=before["merchant_id"],
                redemption_ids=before["evidence"].get("redemption_ids") or [],
                now=ctx.now,
                day=business_day(ctx.now, ctx.tz),
            )
        (standing,) = await ledger.payout_standing(tx, [before["merchant_id"]])
        held = standing["status"] == "suspended" or standing["held"]
        after = await _locked(tx, flag_id)
        result = {
            "flag": after,
            "clawed_back_fen": sum(r["amount_fen"] for r in clawed),
            "clawed_back_redemptions": len(clawed),
            "still_held": bool(held),
        }
        await audit.append(
            tx,
            actor=ctx.actor,
            action="risk.release",
            target=f"risk_flags/{flag_id}",
            before=_audited(before),
            after={
                **_audited(after),
                **{k: v for k, v in result.items() if k != "flag"},
                "clawed_back_ids": [r["redemption_id"] for r in clawed],
                "note": note,
            },
            now=ctx.now,
        )
    return result
