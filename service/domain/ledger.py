"""The money ledger (API.md, "Money ledger"): the one record of where every fen is.

Every movement is one transfer between two named accounts (sql/migrations/0011_ledger.sql
names them), append-only and unique per (kind, source), so nothing moves twice. Balances,
settlement lines, budget `spent` and statements are sums of transfers, never a second copy.

Whatever changes a merchant's payable balance or decides on it (settlement, reviews,
releases, payouts, returns, reversals) takes the merchant's lock first (`lock_merchants`),
so two of them never interleave: a hold committed before an export is seen by it, and a
reversal never slips past its day's settlement.

`verify` proves the ledger against the records that caused it (redemptions, clawbacks, the
bank files and the bank's answers), computed apart from the transfers, so it can fail.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import asyncpg

from service.db import Conn, Database
from service.domain import audit, merchants
from service.errors import DomainError, ErrorCode
from service.timefmt import business_day

SETTLEMENT_JOB = audit.Actor("job:settlement")


async def lock_merchants(tx: Conn, merchant_ids: list[int]) -> None:
    """The merchants' locks until the transaction ends (in id order)."""
    await tx.fetch("lock_merchants", merchant_ids=sorted(set(merchant_ids)))


async def payable_balances(tx: Conn, merchant_ids: list[int] | None) -> list[asyncpg.Record]:
    """Each merchant's payable balance above zero (of these merchants; None: of all)."""
    return await tx.fetch("payable_balances", merchant_ids=merchant_ids)


async def payout_standing(tx: Conn, merchant_ids: list[int]) -> list[asyncpg.Record]:
    """Whether each merchant may be paid now: its status and whether a confirmed flag holds
    it (the one place a hold is derived)."""
    return await tx.fetch("payout_standing", merchant_ids=merchant_ids)


async def claw_back(
    tx: Conn,
    *,
    flag_id: int,
    merchant_id: int,
    redemption_ids: list[int],
    now: datetime,
    day: date,
) -> list[asyncpg.Record]:
    """The subsidy of a released flag's redemptions taken back from the merchant's payable
    balance (a transfer each, once; never one reversed already)."""
    return await tx.fetch(
        "claw_back",
        flag_id=flag_id,
        merchant_id=merchant_id,
        redemption_ids=redemption_ids,
        now=now,
        day=day,
    )


def refuse_day_not_over(day: date, now: datetime, *, tz: Any) -> None:
    """A business day is settled once it has ended (by the festival's clock): day_not_over."""
    today = business_day(now, tz)
    if day >= today:
        raise DomainError(
            ErrorCode.DAY_NOT_OVER,
            f"{day} is not over yet: a day is settled once it has ended",
            {"date": day.isoformat(), "today": today.isoformat()},
        )


async def settle(tx: Conn, day: date, *, now: datetime, tz: Any) -> int:
    """Moves every merchant's unsettled money of business days up to `day` to payable, once
    per (merchant, day); only for a day that is over. Returns the transfers made."""
    refuse_day_not_over(day, now, tz=tz)
    await tx.fetch("lock_all_merchants")
    settled = await tx.fetch("settle_day", day=day, now=now)
    # A money job's run is on the audit trail with its totals, in the run's transaction.
    await audit.append(
        tx,
        actor=SETTLEMENT_JOB,
        action="ledger.settle",
        target=f"settlement/{day.isoformat()}",
        before=None,
        after={
            "date": day.isoformat(),
            "merchants": len(settled),
            "settled_fen": sum(r["amount_fen"] for r in settled),
        },
        now=now,
    )
    return len(settled)


async def balances(
    db: Database, merchant_id: int | None, *, kind: str | None, negative: bool
) -> dict[str, Any]:
    if merchant_id is None:
        rows = await db.fetch("ledger_balances", kind=kind, negative=negative)
    else:  # through the merchant's own transfers, not a sum of the whole ledger
        rows = [
            r
            for r in await db.fetch("merchant_balances", merchant_id=merchant_id)
            if (kind is None or r["kind"] == kind) and (not negative or r["balance_fen"] < 0)
        ]
    items = [dict(r) for r in rows]
    return {"items": items, "totals": {"sum_fen": sum(r["balance_fen"] for r in items)}}


async def transfers(
    db: Database,
    merchant_id: int | None,
    *,
    kind: str | None,
    from_day: date,
    to_day: date,
    limit: int,
) -> list[asyncpg.Record]:
    return await db.fetch(
        "ledger_transfers",
        merchant_id=merchant_id,
        kind=kind,
        from_day=from_day,
        to_day=to_day,
        limit=limit,
    )


async def statement(
    db: Database, merchant_id: int, *, from_day: date, to_day: date
) -> list[asyncpg.Record]:
    """The merchant's 对账单: per business day each kind of movement, and the balances the day
    ends with (unsettled, and payable: what is owed, below 0 what the merchant owes back)."""
    await merchants.get_merchant(db, merchant_id)  # not found: 404
    return await db.fetch(
        "merchant_statement", merchant_id=merchant_id, from_day=from_day, to_day=to_day
    )


@dataclass
class Verified:
    checks: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def answer(self) -> dict[str, Any]:
        if self.ok:
            return {"ok": True, "checks": self.checks}
        return {"ok": False, "checks": self.checks, "problems": self.problems}


async def verify(db: Database) -> Verified:
    """Every check of API.md's "Verify", in one repeatable-read snapshot (a festival being
    redeemed in does not move between two checks)."""
    result = Verified()
    async with db.transaction(isolation="repeatable_read") as tx:
        for name, rows in (
            ("balanced", await tx.fetch("verify_balances_sum")),
            ("records", await tx.fetch("verify_records")),
            ("cost", await tx.fetch("verify_cost")),
            ("payouts", await tx.fetch("verify_payouts")),
            ("bank_files", await tx.fetch("verify_bank_files")),
        ):
            problems = [r["problem"] for r in rows]
            result.checks[name] = "ok" if not problems else f"{len(problems)} problem(s)"
            result.problems += problems
        totals = await tx.fetchrow("verify_totals")
        assert totals is not None
        t = dict(totals)
        result.checks["totals"] = t
        held = t["unsettled_fen"] + t["payable_fen"] + t["in_transit_fen"] + t["paid_fen"]
        matched = t["cost_fen"] == t["subsidy_fen"] == held
        result.checks["totals_match"] = "ok" if matched else "problem"
        if not matched:
            result.problems.append(
                f"the redemptions and clawbacks cost {t['cost_fen']} fen; subsidy holds"
                f" {t['subsidy_fen']}; unsettled + payable + in transit + paid = {held}"
            )
    return result
