"""Paying merchants: a day's pending settlement lines go out in a bank file, the bank's return
file marks them paid or failed, and the reconciliation proves every fen is somewhere:
settled = pending + held + exported, and exported = paid + failed + in flight.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from service.db import Database
from service.domain import audit, csvin
from service.errors import DomainError, ErrorCode

BANK_FILE_COLUMNS = ("reference", "merchant_id", "account_name", "account_no", "amount_yuan")
RETURN_STATUSES = ("paid", "failed")
RETURN_HEADERS = (("reference", "status"), ("reference", "status", "amount_yuan"))
_REFERENCE = re.compile(r"HYF-[0-9]{8}-[0-9]{4,}", re.ASCII)
_YUAN = re.compile(r"([0-9]{1,13})\.([0-9]{2})", re.ASCII)
MAX_RETURN_ROWS = 20_000


def yuan(fen: int) -> str:
    """Integer fen as yuan with two decimals, by integer arithmetic (never a float)."""
    return f"{fen // 100}.{fen % 100:02d}"


async def export(
    db: Database, day: date, actor: audit.Actor, now: datetime
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The bank file's rows (the lines now exported) and the pending lines left out, and why."""
    async with db.transaction() as tx:
        if not await tx.fetchval("day_settled", period=day.isoformat()):
            raise DomainError(
                ErrorCode.CONFLICT,
                "this day has not been settled yet",
                {"date": [f"The settlement job has not settled {day} yet."]},
            )
        exported = await tx.fetch("export_lines", day=day, now=now)
        left_out = [dict(r) for r in await tx.fetch("unexportable_lines", day=day)]
        if not exported:
            raise DomainError(
                ErrorCode.CONFLICT,
                "no pending line of this day can be exported (already exported, held, or"
                " without an account)",
                {"left_out": left_out},
            )
        rows = [
            {
                "reference": r["reference"],
                "merchant_id": r["merchant_id"],
                "account_name": r["account_name"],
                "account_no": r["account_no"],
                "amount_yuan": yuan(r["amount_fen"]),
            }
            for r in exported
        ]
        total = sum(r["amount_fen"] for r in exported)
        await audit.append(
            tx,
            actor,
            "payments.export",
            f"payments/{day.isoformat()}",
            None,
            {
                "lines": len(rows),
                "amount_fen": total,
                "references": [r["reference"] for r in rows],
                "left_out": left_out,
            },
            now,
        )
    return rows, left_out


@dataclass(frozen=True)
class Return:
    """A line of the bank's return file: what happened to one payment line."""

    reference: str
    status: str  # paid | failed
    amount_fen: int | None = None  # the bank's amount, when the file gives one
    line: int = 0  # its line in the file (1 = the header), for the errors


def parse_returns(text: str) -> list[Return]:
    """A return file's rows, or a DomainError naming every bad line (1 = the header)."""
    upload = csvin.read(text, RETURN_HEADERS)
    errors = upload.errors
    rows: list[Return] = []
    seen: dict[str, int] = {}
    for number, cells in upload.lines:
        reference, status = cells[0], cells[1]
        problems = []
        if not _REFERENCE.fullmatch(reference):
            problems.append(f"reference {reference!r} is not a bank file reference.")
        elif reference in seen:
            problems.append(f"repeats line {seen[reference]} ({reference}).")
        else:
            seen[reference] = number
        if status not in RETURN_STATUSES:
            problems.append(f"status {status!r} is not paid or failed.")
        amount = None
        if len(cells) == 3:
            found = _YUAN.fullmatch(cells[2])
            if found is None:
                problems.append(f"amount_yuan {cells[2]!r} is not yuan with two decimals.")
            else:
                amount = int(found[1]) * 100 + int(found[2])
        if problems:
            errors[str(number)] = problems
        else:
            rows.append(Return(reference, status, amount, number))
    upload.refuse_if_bad(len(rows), MAX_RETURN_ROWS)
    return rows


async def apply_returns(db: Database, rows: list[Return], actor: audit.Actor, now: datetime) -> int:
    """All rows or none: every reference must be a line in a bank file not yet returned, and
    an amount given must be the line's."""
    references = [r.reference for r in rows]
    async with db.transaction() as tx:
        lines = {
            r["reference"]: r for r in await tx.fetch("lines_by_reference", references=references)
        }
        errors: dict[str, list[str]] = {}
        for row in rows:
            line = lines.get(row.reference)
            if line is None:
                errors[str(row.line)] = [f"unknown reference {row.reference}."]
            elif line["status"] != "exported":
                errors[str(row.line)] = [
                    f"{row.reference} is {line['status']}, not awaiting its return."
                ]
            elif row.amount_fen is not None and row.amount_fen != line["amount_fen"]:
                errors[str(row.line)] = [
                    f"amount {yuan(row.amount_fen)} does not match the line's"
                    f" {yuan(line['amount_fen'])}."
                ]
        if errors:
            raise DomainError(
                ErrorCode.INVALID_REQUEST,
                f"{len(errors)} line(s) do not match the bank files; nothing was applied",
                {"lines": errors},
            )
        await tx.execute(
            "apply_returns", references=references, statuses=[r.status for r in rows], now=now
        )
        await audit.append(
            tx,
            actor,
            "payments.returns",
            "payments",
            None,
            {
                "rows": len(rows),
                "paid": [r.reference for r in rows if r.status == "paid"],
                "failed": [r.reference for r in rows if r.status == "failed"],
            },
            now,
        )
    return len(rows)


async def reconciliation(db: Database, day: date) -> dict[str, Any]:
    row = await db.fetchrow("reconciliation", day=day)
    assert row is not None
    r = dict(row)
    r["date"] = day.isoformat()
    r["balanced"] = (
        r["settled_fen"] == r["redemptions_fen"]
        and r["settled_fen"] == r["pending_fen"] + r["held_fen"] + r["exported_fen"]
        and r["exported_fen"] == r["paid_fen"] + r["failed_fen"] + r["in_flight_fen"]
    )
    return r
