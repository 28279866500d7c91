"""Claiming vouchers in a flash crowd, without oversell.

`claim_many` settles many residents' claims on one batch in a single transaction: it locks the
batch row, learns how many vouchers each claimant already holds, decides the winners in
arrival order, and writes their vouchers, ledger events and the batch's stock in one
statement. PostgreSQL still enforces the quota (`batches_not_oversold`) and the per-resident
limit per person (`vouchers_within_resident_limit`, `vouchers_person_slot_key`); Python only gives the
friendly answer first.

`ClaimCombiner` feeds it: concurrent claims of a batch that arrive while one transaction is in
flight are settled together by the next, so a burst costs a few transactions, not one each
(and a claim that makes a transaction fail is settled alone: service/combiner.py). Once a
batch is seen empty, losers get `sold_out` from memory for a second.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from service.combiner import Combiner
from service.db import Conn, Database
from service.domain.codes import new_code
from service.domain.persons import another_person, bound_to, suspended
from service.errors import DomainError, ErrorCode
from service.vocabulary import LOTTERY

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


def _window_refusal(batch: asyncpg.Record, now: datetime) -> DomainError | None:
    if batch["mode"] == LOTTERY:
        return DomainError(
            ErrorCode.LOTTERY_BATCH,
            "this batch is drawn by lottery: enter it (POST /batches/{id}/entries) instead",
        )
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


@dataclass(frozen=True)
class ClaimRequest:
    """One resident's tap: its subject, its person (the limit counts per person: Principal.
    person), and the Idempotency-Key the page sent, if any."""

    sub: str
    key: str | None = None
    person: str = ""

    @property
    def who(self) -> str:
        return self.person or f"r:{self.sub}"


@dataclass(frozen=True)
class Stored:
    """A keyed claim's answer, exactly as stored with it: a retry gets the same bytes."""

    status: int
    text: str


Outcome = Claimed | Stored | DomainError
# How a keyed claim's won voucher is written as its stored answer (the API's voucher JSON).
Render = Callable[[Claimed], str]


async def claim_many(
    db: Database,
    batch_id: int,
    *,
    requests: Sequence[ClaimRequest | str],
    now: datetime,
    render: Render | None = None,
) -> list[Outcome]:
    """Settle these claims (in arrival order; a subject may repeat, a (subject, key) pair may
    not) on one batch. A keyed claim that wins has its answer stored in the same transaction
    and replayed for its key ever after; `render` writes that answer."""
    wanted = [r if isinstance(r, ClaimRequest) else ClaimRequest(r) for r in requests]
    for attempt in range(_RETRIES):
        try:
            return await _claim_once(db, batch_id, wanted=wanted, now=now, render=render)
        except asyncpg.IntegrityConstraintViolationError as err:
            # A race the lock should have prevented, a code collision (2^-64), or one key
            # used at once for two batches: the constraint held, so nothing was written;
            # decide again from fresh state (the key's answer is then found stored).
            log.warning("claim transaction retried after %s", err.constraint_name)
            if attempt == _RETRIES - 1:
                raise
    raise AssertionError("unreachable")


async def _claim_once(
    db: Database, batch_id: int, *, wanted: list[ClaimRequest], now: datetime, render: Render | None
) -> list[Outcome]:
    async with db.transaction() as tx:
        batch = await tx.fetchrow("lock_batch_for_claims", batch_id=batch_id)
        if batch is None:
            return [DomainError(ErrorCode.NOT_FOUND, "batch not found")] * len(wanted)
        # A keyed retry of a won claim gets its answer whatever happened since (sold out,
        # closed); anything else is judged now.
        claimants: Claimants | None = None
        stored: dict[tuple[int, str | None], asyncpg.Record] = {}
        if any(r.key is not None for r in wanted):
            claimants = await _residents(tx, batch_id, wanted=wanted)
            stored = await _stored_answers(tx, wanted, residents=claimants.ids)
        refusal = _window_refusal(batch, now)
        if refusal is not None and claimants is None:
            return [refusal] * len(wanted)
        if claimants is None:
            claimants = await _residents(tx, batch_id, wanted=wanted)

        limit = batch["per_resident_limit"]
        remaining = batch["quantity"] - batch["claimed"]
        held = claimants.held
        outcomes: list[Outcome | None] = []
        codes: list[str] = []
        resident_ids: list[int] = []
        persons: list[str] = []
        slots: list[int] = []
        for request in wanted:
            person = claimants.person(request)
            answer = stored.get((claimants.ids[request.sub], request.key))
            if person is None:
                outcomes.append(another_person())
            elif answer is not None:
                outcomes.append(_replay(answer, batch_id))
            elif refusal is not None:
                outcomes.append(refusal)
            elif person in claimants.barred:
                outcomes.append(suspended())
            elif held[person] >= limit:
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
                held[person] += 1
                remaining -= 1
                codes.append(new_code())
                resident_ids.append(claimants.ids[request.sub])
                persons.append(person)
                slots.append(held[person])
                outcomes.append(None)
        expires_at = expiry(batch, now)
        if codes:
            inserted = await tx.fetch(
                "insert_claimed_vouchers",
                batch_id=batch_id,
                per_resident_limit=limit,
                codes=codes,
                resident_ids=resident_ids,
                persons=persons,
                slots=slots,
                now=now,
                expires_at=expires_at,
            )
            assert len(inserted) == len(codes)
        won = iter(codes)
        decided: list[Outcome] = [
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
        return await _store_keyed(
            tx,
            batch_id,
            wanted=wanted,
            residents=claimants.ids,
            decided=decided,
            stored=stored,
            now=now,
            render=render,
        )


@dataclass
class Claimants:
    """Who the claims of one flush come from: each account's resident id and the person it
    is bound to, the vouchers of the batch each person already holds, the persons suspended."""

    ids: dict[str, int]
    bound: dict[str, str]
    held: dict[str, int]
    barred: set[str]

    def person(self, request: ClaimRequest) -> str | None:
        """The person this claim counts for, or None when its token names another person
        than the one its account is bound to (persons.bound_to)."""
        return bound_to(self.bound[request.sub], request.who)


async def _residents(tx: Conn, batch_id: int, *, wanted: list[ClaimRequest]) -> Claimants:
    pairs = list(dict.fromkeys((r.sub, r.who) for r in wanted))
    for _ in range(_RETRIES):
        rows = await tx.fetch(
            "claim_residents",
            subs=[sub for sub, _ in pairs],
            persons=[person for _, person in pairs],
            batch_id=batch_id,
        )
        # A resident created or bound by a concurrent transaction is invisible to the
        # statement that waited for it (id or person null); asking again sees it.
        if all(r["id"] is not None and r["person"] is not None for r in rows):
            return Claimants(
                ids={r["sub"]: r["id"] for r in rows},
                bound={r["sub"]: r["person"] for r in rows},
                held={r["person"]: r["held"] for r in rows},
                barred={r["person"] for r in rows if r["suspended"]},
            )
    raise RuntimeError("residents could not be resolved")


async def _stored_answers(
    tx: Conn, wanted: list[ClaimRequest], *, residents: dict[str, int]
) -> dict[tuple[int, str | None], asyncpg.Record]:
    keyed = [r for r in wanted if r.key is not None]
    if not keyed:
        return {}
    rows = await tx.fetch(
        "stored_claim_answers",
        resident_ids=[residents[r.sub] for r in keyed],
        keys=[r.key for r in keyed],
    )
    return {(row["resident_id"], row["key"]): row for row in rows}


def _replay(answer: asyncpg.Record, batch_id: int) -> Outcome:
    if answer["batch_id"] != batch_id:
        return DomainError(
            ErrorCode.IDEMPOTENCY_KEY_REUSED,
            "this Idempotency-Key was used for a claim on another batch",
        )
    return Stored(answer["status_code"], answer["response"])


async def _store_keyed(
    tx: Conn,
    batch_id: int,
    *,
    wanted: list[ClaimRequest],
    residents: dict[str, int],
    decided: list[Outcome],
    stored: dict[tuple[int, str | None], asyncpg.Record],
    now: datetime,
    render: Render | None,
) -> list[Outcome]:
    """Keyed claims won now get their answer stored and are answered from what was stored, so
    the first answer and every replay are the same bytes. A refusal changed nothing and is not
    stored: a retry of that tap is judged afresh (and may win if stock came back)."""
    ids: list[int] = []
    keys: list[str] = []
    statuses: list[int] = []
    answers: list[str] = []
    final: list[Outcome] = []
    for request, outcome in zip(wanted, decided, strict=True):
        rid = residents[request.sub]
        if request.key is None or not isinstance(outcome, Claimed):
            final.append(outcome)
            continue
        assert render is not None, "keyed claims need a renderer for their answers"
        answer = Stored(201, render(outcome))
        ids.append(rid)
        keys.append(request.key)
        statuses.append(answer.status)
        answers.append(answer.text)
        final.append(answer)
    if keys:
        await tx.execute(
            "store_claim_answers",
            batch_id=batch_id,
            resident_ids=ids,
            keys=keys,
            statuses=statuses,
            answers=answers,
            now=now,
        )
    return final


class ClaimCombiner:
    """Combines concurrent claims of a batch in this process into shared transactions
    (service/combiner.py), and remembers for a second that a batch is sold out. Two claims
    with the same (resident, key) never share a flush: the second finds the first's answer."""

    def __init__(self, db: Database, *, now: Callable[[], datetime], render: Render) -> None:
        self.db = db
        self.now = now
        self.render = render
        self._sold_out_until: dict[int, float] = {}
        self._combiner: Combiner[int, ClaimRequest, Claimed | Stored] = Combiner(
            "claims",
            self._flush,
            max_size=MAX_CLAIMS_PER_TRANSACTION,
            exclusive=lambda r: (r.sub, r.key) if r.key is not None else id(r),
        )

    async def claim(
        self, batch_id: int, sub: str, *, key: str | None = None, person: str = ""
    ) -> Claimed | Stored:
        until = self._sold_out_until.get(batch_id)
        # A keyed claim may be the retry of a won one: the database has its answer.
        if key is None and until is not None and time.monotonic() < until:
            raise sold_out()
        return await self._combiner.submit(batch_id, ClaimRequest(sub, key, person))

    def forget(self, batch_id: int) -> None:
        """Drop what this process believes about a batch (after its quantity changed)."""
        self._sold_out_until.pop(batch_id, None)

    async def _flush(self, batch_id: int, requests: list[ClaimRequest]) -> list[Outcome]:
        outcomes = await claim_many(
            self.db, batch_id, requests=requests, now=self.now(), render=self.render
        )
        if any(isinstance(o, DomainError) and o.code == ErrorCode.SOLD_OUT for o in outcomes):
            self._sold_out_until[batch_id] = time.monotonic() + SOLD_OUT_MEMORY_S
        return outcomes

    async def close(self) -> None:
        await self._combiner.close()
