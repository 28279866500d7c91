"""Migration 0011 moves a festival run under the old settlement lines into the ledger, and
every fen lands in the right account: a festival made with the schema before it (0010) and
its own rules — redemptions, a reversal before settlement and one after (adjusted on a later
line), clawbacks adjusted and not yet, lines exported and paid, exported and failed, held,
pending without an account — is migrated, and verify, the balances and the next bank file
say where each fen is."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from service.db import Database
from service.domain import ledger, payments
from service.domain.audit import Actor
from service.domain.context import Context
from service.migrations import migrate_url
from tests.support.factories import merchant_body

TZ = ZoneInfo("Asia/Shanghai")
D1, D2, D3 = date(2020, 5, 4), date(2020, 5, 5), date(2020, 5, 6)
ACTOR = Actor("test")


def at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=TZ).astimezone(UTC)


async def old_festival(url: str) -> dict[str, int]:
    """The festival, written as the code before the ledger wrote it (plain SQL: today's code
    may need what the old schema lacks)."""
    conn = await asyncpg.connect(url)
    try:
        shops = {}
        for n, (name, account) in enumerate((("A", True), ("B", True), ("C", False), ("D", True))):
            shops[name] = await conn.fetchval(
                "INSERT INTO merchants (name, category, credit_code, district, address,"
                " contact_phone, api_key_hash, account_name, account_no)"
                " VALUES ($1, 'shopping', $2, '槐荫区', '经十路', '13812345678', '\\x00', $3, $4)"
                " RETURNING id",
                f"商户{name}",
                merchant_body()["credit_code"],
                f"商户{name}" if account else None,
                f"62220202001122334{n}" if account else None,
            )
        batch_id = await conn.fetchval(
            "INSERT INTO batches (category, title, face_value_fen, min_spend_fen, quantity,"
            " per_resident_limit, claim_starts_at, claim_ends_at, valid_days, claimed)"
            " VALUES ('shopping', '购物券', 2000, 10000, 100, 1, $1, $2, 30, 10) RETURNING id",
            at(D1, 9),
            at(D3, 20),
        )
        vouchers = []
        for i in range(10):
            resident = await conn.fetchval(
                "INSERT INTO residents (sub) VALUES ($1) RETURNING id", f"r{i}"
            )
            vouchers.append(
                await conn.fetchval(
                    "INSERT INTO vouchers (code, batch_id, per_resident_limit, resident_id,"
                    " person, slot, status, claimed_at, expires_at)"
                    " VALUES ($1, $2, 1, $3, $4, 1, 'active', $5, $6) RETURNING id",
                    f"OLDCODE{i:04d}",
                    batch_id,
                    resident,
                    f"r:r{i}",
                    at(D1, 10),
                    at(D1, 10) + timedelta(days=30),
                )
            )
        batch = {"id": batch_id}
        ids: dict[str, int] = {}

        async def redeemed(
            name: str, shop: str, day: date, *, settled: date | None = None, **more: Any
        ) -> None:
            ids[name] = await conn.fetchval(
                "INSERT INTO redemptions (voucher_id, merchant_id, batch_id, category,"
                " order_amount_fen, discount_fen, payable_fen, order_ref, idempotency_key,"
                " status, redeemed_at, business_date, reversed_at, settled_on, adjusted_on)"
                " VALUES ($1, $2, $3, 'shopping', 12000, 2000, 10000, 'POS', $4, $5, $6, $7,"
                " $8, $9, $10) RETURNING id",
                vouchers[len(ids)],
                shops[shop],
                batch["id"],
                name,
                more.get("status", "completed"),
                at(day, 11),
                day,
                more.get("reversed_at"),
                settled,
                more.get("adjusted"),
            )

        await redeemed("r1", "A", D1, settled=D1)
        await redeemed("r2", "A", D1, settled=D1)
        await redeemed("r3", "A", D1, status="reversed", reversed_at=at(D1, 12))
        await redeemed("r4", "B", D1, settled=D1)
        await redeemed("r5", "B", D1, settled=D1)
        # Settled, then reversed (the old rules allowed it): carried as −20.00 on B's next line.
        await redeemed(
            "r6", "B", D2, settled=D2, status="reversed", reversed_at=at(D3, 8), adjusted=D3
        )
        await redeemed("r7", "A", D2, settled=D2)
        await redeemed("r8", "C", D2, settled=D2)
        await redeemed("r9", "A", D3)  # not settled yet
        await redeemed("r10", "D", D1, settled=D1)

        async def flag(shop: str, released: bool) -> int:
            return int(
                await conn.fetchval(
                    "INSERT INTO risk_flags (merchant_id, rule, date, score, evidence, status,"
                    " raised_at, reviewed_by, reviewed_at, released_by, released_at)"
                    " VALUES ($1, 'threshold_hugging', $2, 0.7, '{}', 'confirmed', $3, 'w',"
                    " $3, $4, $5) RETURNING id",
                    shops[shop],
                    D1,
                    at(D2, 9),
                    "w" if released else None,
                    at(D2, 10) if released else None,
                )
            )

        claws_flag = await flag("A", released=True)
        await flag("D", released=False)
        for name, adjusted in (("r1", D2), ("r2", None)):
            await conn.execute(
                "INSERT INTO clawbacks (redemption_id, flag_id, merchant_id, amount_fen, at,"
                " adjusted_on) VALUES ($1, $2, $3, 2000, $4, $5)",
                ids[name],
                claws_flag,
                shops["A"],
                at(D2, 10),
                adjusted,
            )

        async def line(shop: str, day: date, n: int, subsidy: int, adj: int, status: str) -> None:
            reference = (
                f"HYF-{day:%Y%m%d}-{shops[shop]:04d}"
                if status in ("exported", "paid", "failed")
                else None
            )
            await conn.execute(
                "INSERT INTO settlement_lines (merchant_id, date, redemptions, subsidy_fen,"
                " adjustments_fen, settled_at, status, reference, exported_at, returned_at)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                shops[shop],
                day,
                n,
                subsidy,
                adj,
                at(day + timedelta(days=1), 0),
                status,
                reference,
                at(day + timedelta(days=1), 9) if reference else None,
                at(day + timedelta(days=1), 16) if status in ("paid", "failed") else None,
            )

        await line("A", D1, 2, 4000, 0, "paid")
        await line("B", D1, 2, 4000, 0, "failed")
        await line("D", D1, 1, 2000, 0, "held")
        await line("A", D2, 1, 2000, -2000, "pending")  # r1's clawback: nothing to pay
        await line("B", D2, 1, 2000, 0, "paid")  # r6, reversed after this line was written
        await line("C", D2, 1, 2000, 0, "pending")  # no account
        await line("B", D3, 0, 0, -2000, "pending")  # r6's reversal carried
    finally:
        await conn.close()
    return shops


async def test_every_fen_lands_in_its_account(empty_db_url: str) -> None:
    await migrate_url(empty_db_url, upto=10)
    shops = await old_festival(empty_db_url)
    assert await migrate_url(empty_db_url) == [v for v in range(11, 100) if v <= _latest()]
    db = await Database.connect(empty_db_url, min_size=1, max_size=2)
    try:
        result = await ledger.verify(db)
        assert result.ok, result.problems
        found = await ledger.balances(db, None, kind=None, negative=False)
        by_account = {b["account"]: b["balance_fen"] for b in found["items"] if b["balance_fen"]}
        a, b, c, d = (shops[n] for n in "ABCD")
        assert by_account == {
            # r1–r10, less r3 and r6 reversed, less r1 and r2 clawed back
            "subsidy:shopping": -12_000,
            f"unsettled:{a}": 2000,  # r9, not settled
            # Paid for r1 and r2, both clawed back (r7 netted one): it owes 20.00 back.
            f"payable:{a}": -2000,
            # Its payment of the 4th failed (owed again, 40.00); r6 was paid on the 5th's line,
            # then reversed, and the line carrying that back was never paid (−20.00).
            f"payable:{b}": 2000,
            f"payable:{c}": 2000,  # no account yet
            f"payable:{d}": 2000,  # held
            "paid": 6000,  # A's 4th and B's 5th
        }
        assert found["totals"]["sum_fen"] == 0
        # The next bank file pays exactly what is owed and leaves out what should be.
        made = await payments.export(
            Context(db=db, actor=ACTOR, now=at(D3, 22), tz=TZ), key="after-migration"
        )
        assert (made["rows"], made["total_fen"]) == (1, 2000)
        reasons = {x["merchant_id"]: x["reason"] for x in made["left_out"]}
        assert reasons == {a: "receivable", c: "no_account", d: "held"}
        assert (await ledger.verify(db)).ok
        old_files = await db.pool.fetch(
            "SELECT idempotency_key, rows, total_fen FROM bank_files ORDER BY id"
        )
        assert [tuple(r) for r in old_files][:2] == [
            ("migrated-20200504", 2, 8000),
            ("migrated-20200505", 1, 2000),
        ]
    finally:
        await db.close()


def _latest() -> int:
    from service.migrations import latest_version

    return latest_version()
