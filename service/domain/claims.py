"""Claiming vouchers in a flash crowd, without oversell.

`claim_many` settles many residents' claims on one batch in a single transaction: it locks the
batch row, learns how many vouchers each claimant already holds, decides the winners in
arrival order, and writes their vouchers, ledger events and the batch's stock in one
statement. PostgreSQL still enforces the quota (`batches_not_oversold`) and the per-resident
limit (`vouchers_within_resident_limit`, `vouchers_resident_slot_key`); Python only gives the
friendly answer first.

`ClaimCombiner` feeds it: concurrent claims of a batch that arrive while one transaction is in
flight are settled together by the next, so a burst costs a few transactions, not one each
(and a claim that makes a transaction fail is settled alone: service/combiner.py). Once a
batch is seen empty, losers get `sold_out` from memory for a second.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from service.combiner import Combiner
from service.db import Database
from service.domain.codes import new_code
from service.errors import DomainError, ErrorCode

log = logging.getLogger(__name__)

MAX_CLAIMS_PER_TRANSACTION = 1000
SOLD_OUT_MEMORY_S = 1.0
_RETRIES = 3


@dataclass
class Claimed:
    """A won claim: everything the voucher's JSON needs, without another query."""

    code: str
    batch_id: int
    category: str
    title: str
    face_value_fen: int
    min_spend_fen: int
    claimed_at: datetime
    expires_at: datetime
    status: str = "active"
    redeemed_at: datetime | None = None

    def __getitem__(self, name: str) -> Any:
        return getattr(self, name)


Outcome = Claimed | DomainError


def _window_refusal(batch: asyncpg.Record, now: datetime) -> DomainError | None:
    if now >= batch["claim_ends_at"] or (
        batch["valid_until"] is not None and now >= batch["valid_until"]
    ):
        return DomainError(ErrorCode.CLOSED, "this batch's claim window has ended")
    if now < batch["claim_starts_at"]:
        return DomainError(
            ErrorCode.NOT_OPEN,
            "this batch is not open yet",
            {"claim_starts_at": batch["claim_starts_at"].isoformat()},
        )
    if batch["paused"]:
        return DomainError(ErrorCode.NOT_OPEN, "claims of this batch are paused")
    if batch["claimed"] >= batch["quantity"]:
        return sold_out()
    return None


def sold_out() -> DomainError:
    return DomainError(ErrorCode.SOLD_OUT, "all vouchers of this batch have been claimed")


def expiry(batch: asyncpg.Record, now: datetime) -> datetime:
    expires = now + timedelta(days=batch["valid_days"])
    if batch["valid_until"] is not None:
        expires = min(expires, batch["valid_until"])
    return expires


async def claim_many(db: Database, batch_id: int, subs: list[str], now: datetime) -> list[Outcome]:
    """Settle the claims of `subs` (in arrival order, repeats allowed) on one batch."""
    for attempt in range(_RETRIES):
        try:
            return await _claim_once(db, batch_id, subs, now)
        except asyncpg.IntegrityConstraintViolationError as err:
            # A race the lock should have prevented, or a code collision (2^-64): the
            # constraint held, so nothing was written; decide again from fresh state.
            log.warning("claim transaction retried after %s", err.constraint_name)
            if attempt == _RETRIES - 1:
                raise
    raise AssertionError("unreachable")


async def _claim_once(db: Database, batch_id: int, subs: list[str], now: datetime) -> list[Outcome]:
    async with db.transaction() as tx:
        batch = await tx.fetchrow("lock_batch_for_claims", batch_id=batch_id)
        if batch is None:
            return [DomainError(ErrorCode.NOT_FOUND, "batch not found")] * len(subs)
        refusal = _window_refusal(batch, now)
        if refusal is not None:
            return [refusal] * len(subs)
        distinct = list(dict.fromkeys(subs))
        residents: dict[str, tuple[int, int]] = {}
        for _ in range(_RETRIES):
            rows = await tx.fetch("claim_residents", subs=distinct, batch_id=batch_id)
            residents.update({r["sub"]: (r["id"], r["held"]) for r in rows})
            # A resident created by a concurrent transaction is invisible to the statement
            # that waited for it; asking again sees it.
            if len(residents) == len(distinct):
                break
        else:
            raise RuntimeError("residents could not be resolved")

        limit = batch["per_resident_limit"]
        remaining = batch["quantity"] - batch["claimed"]
        held = {sub: n for sub, (_, n) in residents.items()}
        outcomes: list[Outcome | None] = []
        codes: list[str] = []
        resident_ids: list[int] = []
        slots: list[int] = []
        for sub in subs:
            if held[sub] >= limit:
                outcomes.append(
                    DomainError(
                        ErrorCode.LIMIT_REACHED,
                        f"at most {limit} voucher(s) of this batch per resident",
                        {"per_resident_limit": limit},
                    )
                )
            elif remaining <= 0:
                outcomes.append(sold_out())
            else:
                held[sub] += 1
                remaining -= 1
                codes.append(new_code())
                resident_ids.append(residents[sub][0])
                slots.append(held[sub])
                outcomes.append(None)
        expires_at = expiry(batch, now)
        if codes:
            inserted = await tx.fetch(
                "insert_claimed_vouchers",
                batch_id=batch_id,
                per_resident_limit=limit,
                codes=codes,
                resident_ids=resident_ids,
                slots=slots,
                now=now,
                expires_at=expires_at,
            )
            assert len(inserted) == len(codes)
    won = iter(codes)
    return [
        outcome
        if outcome is not None
        else Claimed(
            code=next(won),
            batch_id=batch_id,
            category=batch["category"],
            title=batch["title"],
            face_value_fen=batch["face_value_fen"],
            min_spend_fen=batch["min_spend_fen"],
            claimed_at=now,
            expires_at=expires_at,
        )
        for outcome in outcomes
    ]


class ClaimCombiner:
    """Combines concurrent claims of a batch in this process into shared transactions
    (service/combiner.py), and remembers for a second that a batch is sold out."""

    def __init__(self, db: Database, now: Callable[[], datetime]) -> None:
        self.db = db
        self.now = now
        self._sold_out_until: dict[int, float] = {}
        self._combiner: Combiner[int, str, Claimed] = Combiner(
            "claims", self._flush, max_size=MAX_CLAIMS_PER_TRANSACTION
        )

    async def claim(self, batch_id: int, sub: str) -> Claimed:
        until = self._sold_out_until.get(batch_id)
        if until is not None and time.monotonic() < until:
            raise sold_out()
        return await self._combiner.submit(batch_id, sub)

    def forget(self, batch_id: int) -> None:
        """Drop what this process believes about a batch (after its quantity changed)."""
        self._sold_out_until.pop(batch_id, None)

    async def _flush(self, batch_id: int, subs: list[str]) -> list[Outcome]:
        outcomes = await claim_many(self.db, batch_id, subs, self.now())
        if any(isinstance(o, DomainError) and o.code == "sold_out" for o in outcomes):
            self._sold_out_until[batch_id] = time.monotonic() + SOLD_OUT_MEMORY_S
        return outcomes

    async def close(self) -> None:
        await self._combiner.close()
