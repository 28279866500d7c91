"""Paying merchants from the ledger: bank files pay balances (not day lines), are kept byte
for byte, and the bank's return file answers each payment once.

An export pays every merchant that is not held, has an account and is owed something
(`payable` > 0) its whole balance, one row each under a reference of its own; a failed
payment goes back to payable and the next file pays it again under a new reference. A
receivable (payable < 0, after a clawback bigger than what was owed) nets against later
earnings before anything is paid.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import asyncpg

from service.csvtext import csv_text
from service.db import Conn, Database
from service.domain import audit, ledger
from service.domain.context import Context
from service.errors import DomainError, ErrorCode, not_found
from service.timefmt import business_day

BANK_FILE_COLUMNS = ("reference", "merchant_id", "account_name", "account_no", "amount_yuan")
EXPORT_LOCK_NAMESPACE = 0x42414E4B  # "BANK": exports with one key take turns


def yuan(fen: int) -> str:
    """Integer fen as yuan with two decimals, by integer arithmetic (never a float)."""
    return f"{fen // 100}.{fen % 100:02d}"


def reference(bank_file_id: int, merchant_id: int) -> str:
    """Unique per payout: the export and the merchant, padded, never cut."""
    return f"HYF-E{bank_file_id:06d}-{merchant_id:04d}"


def _left_out(standing: asyncpg.Record, balance_fen: int) -> str | None:
    """Why a merchant with a payable balance is not paid now; None: it is."""
    if balance_fen < 0:
        return "receivable"
    if standing["status"] == "suspended":
        return "suspended"
    if standing["held"]:
        return "held"
    if standing["account_no"] is None:
        return "no_account"
    return None


def export_json(row: asyncpg.Record | dict[str, Any]) -> dict[str, Any]:
    out = {k: row[k] for k in ("id", "created_at", "sha256", "rows", "total_fen")}
    out["left_out"] = json.loads(row["left_out"])
    return out


async def export(
    ctx: Context,
    key: str,
) -> dict[str, Any]:
    """A bank file paying every merchant owed something and not held; the same one, moving
    nothing, when this key made it before."""
    async with ctx.db.transaction() as tx:
        await tx.fetchval("lock_export_key", namespace=EXPORT_LOCK_NAMESPACE, key=key)
        done = await tx.fetchrow("bank_file_by_key", key=key)
        if done is not None:
            return export_json(done)
        owed = await ledger.payable_balances(tx, None)
        candidates = [r["merchant_id"] for r in owed]
        await ledger.lock_merchants(tx, candidates)
        # Read again under the locks: what a review, release or return committed before them.
        balances = {
            r["merchant_id"]: r["balance_fen"]
            for r in await ledger.payable_balances(tx, candidates)
        }
        bank_file_id = await tx.fetchval("next_bank_file_id")
        rows: list[dict[str, Any]] = []
        left_out: list[dict[str, Any]] = []
        for standing in await ledger.payout_standing(tx, candidates):
            mid = standing["merchant_id"]
            balance = balances.get(mid, 0)
            if balance == 0:
                continue
            reason = _left_out(standing, balance)
            if reason is not None:
                left_out.append({"merchant_id": mid, "reason": reason, "balance_fen": balance})
                continue
            rows.append(
                {
                    "reference": reference(bank_file_id, mid),
                    "merchant_id": mid,
                    "account_name": standing["account_name"],
                    "account_no": standing["account_no"],
                    "amount_fen": balance,
                    "amount_yuan": yuan(balance),
                }
            )
        content = csv_text(rows, BANK_FILE_COLUMNS).encode("utf-8")
        made = {
            "id": bank_file_id,
            "created_at": ctx.now,
            "sha256": hashlib.sha256(content).hexdigest(),
            "rows": len(rows),
            "total_fen": sum(r["amount_fen"] for r in rows),
            "left_out": json.dumps(left_out),
        }
        await tx.execute(
            "insert_bank_file",
            id=bank_file_id,
            key=key,
            now=ctx.now,
            by=ctx.actor.name,
            content=content,
            sha256=made["sha256"],
            rows=made["rows"],
            total_fen=made["total_fen"],
            left_out=made["left_out"],
        )
        if rows:
            await tx.execute(
                "insert_payouts",
                bank_file_id=bank_file_id,
                references=[r["reference"] for r in rows],
                merchant_ids=[r["merchant_id"] for r in rows],
                account_names=[r["account_name"] for r in rows],
                account_nos=[r["account_no"] for r in rows],
                amounts=[r["amount_fen"] for r in rows],
                now=ctx.now,
                day=business_day(ctx.now, ctx.tz),
            )
        fingerprint_key = await audit.fingerprint_key(tx)
        await audit.append(
            tx,
            actor=ctx.actor,
            action="payments.export",
            target=f"bank_files/{bank_file_id}",
            before=None,
            after={
                "sha256": made["sha256"],
                "rows": [
                    {
                        "reference": r["reference"],
                        "merchant_id": r["merchant_id"],
                        "amount_fen": r["amount_fen"],
                        "account": audit.account_fingerprint(fingerprint_key, r["account_no"]),
                    }
                    for r in rows
                ],
                "total_fen": made["total_fen"],
                "left_out": left_out,
            },
            now=ctx.now,
        )
    return export_json(made)


async def exports(db: Database, limit: int) -> list[dict[str, Any]]:
    found = []
    for row in await db.fetch("bank_files", limit=limit):
        item = export_json(row)
        item.update(
            created_by=row["created_by"],
            paid=row["paid"],
            failed=row["failed"],
            in_transit_fen=row["in_transit_fen"],
        )
        found.append(item)
    return found


async def file(db: Database, bank_file_id: int) -> tuple[bytes, str]:
    """A kept bank file's exact bytes and their SHA-256."""
    row = await db.fetchrow("bank_file_content", bank_file_id=bank_file_id)
    if row is None:
        raise not_found("bank file")
    return bytes(row["content"]), row["sha256"]


@dataclass(frozen=True)
class Return:
    """A line of the bank's return file: what happened to one payment."""

    reference: str
    status: str  # paid | failed
    amount_fen: int | None = None  # the bank's amount, when the file gives one
    line: int = 0  # its line in the file (1 = the header), for the errors


async def _check_returns(tx: Conn, rows: list[Return]) -> list[asyncpg.Record]:
    """The payments the rows answer; refused (nothing applied) if any is unknown, answered
    before, or of another amount."""
    known = {
        r["reference"]: r
        for r in await tx.fetch("bank_rows_by_reference", references=[r.reference for r in rows])
    }
    errors: dict[str, list[str]] = {}
    answered: dict[str, str] = {}
    for row in rows:
        payment = known.get(row.reference)
        if payment is None:
            errors[str(row.line)] = [f"unknown reference {row.reference}."]
        elif payment["answered"] is not None:
            answered[str(row.line)] = f"{row.reference} was returned {payment['answered']} before."
        elif row.amount_fen is not None and row.amount_fen != payment["amount_fen"]:
            errors[str(row.line)] = [
                f"amount {yuan(row.amount_fen)} does not match the payment's"
                f" {yuan(payment['amount_fen'])}."
            ]
    if errors:
        raise DomainError(
            ErrorCode.INVALID_REQUEST,
            f"{len(errors)} line(s) do not match the bank files; nothing was applied",
            {"lines": errors},
        )
    if answered:
        raise DomainError(
            ErrorCode.ALREADY_RETURNED,
            f"{len(answered)} payment(s) were answered before; nothing was applied",
            {"lines": answered},
        )
    return list(known.values())


async def apply_returns(
    ctx: Context,
    rows: list[Return],
) -> dict[str, int]:
    """All rows or none: each payment answered once; `failed` makes it payable again."""
    async with ctx.db.transaction() as tx:
        payments = await _check_returns(tx, rows)
        await ledger.lock_merchants(tx, [p["merchant_id"] for p in payments])
        # Checked again under the locks: a return file applied beside this one.
        await _check_returns(tx, rows)
        await tx.execute(
            "record_returns",
            references=[r.reference for r in rows],
            statuses=[r.status for r in rows],
            now=ctx.now,
            by=ctx.actor.name,
            day=business_day(ctx.now, ctx.tz),
        )
        amounts = {p["reference"]: p["amount_fen"] for p in payments}
        result = {
            "rows": len(rows),
            "paid": sum(1 for r in rows if r.status == "paid"),
            "failed": sum(1 for r in rows if r.status == "failed"),
            "paid_fen": sum(amounts[r.reference] for r in rows if r.status == "paid"),
            "failed_fen": sum(amounts[r.reference] for r in rows if r.status == "failed"),
        }
        await audit.append(
            tx,
            actor=ctx.actor,
            action="payments.returns",
            target="payments",
            before=None,
            after={
                **result,
                "paid_references": [r.reference for r in rows if r.status == "paid"],
                "failed_references": [r.reference for r in rows if r.status == "failed"],
            },
            now=ctx.now,
        )
    return result
