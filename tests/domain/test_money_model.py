"""The money ledger against a model (API.md, "Money ledger" and "Money safety").

A Hypothesis state machine drives random sequences of money operations through the real
service over HTTP: redemptions, same-day reversals (and reversals that must be refused),
flags (a real burst caught by the intraday scan, or a flag row written as test setup),
reviews, releases with and without a clawback, nightly settlements, bank files and their
retries by Idempotency-Key, and the bank's answers (paid, failed, and answered twice). After
every step the ledger is checked against a model of plain dicts kept here: what each merchant
has unsettled and payable, what is in transit and paid, and what the festival has spent.

Each example plays a new stretch of days with merchants of its own (the ledger is append-only,
so nothing is wiped between examples); the festival-wide totals are compared by how far they
moved since the example began, and `verify` covers everything, all examples together.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from service import keys
from service.timefmt import business_day
from tests.conftest import Api, assert_error
from tests.support.money import (
    BALANCES,
    balances,
    export,
    file_rows,
    returns,
    verified,
    with_account,
)
from tests.support.shops import FLAGS, REDEMPTIONS, Shop, redeem, scan, series, settle, shop

T = TypeVar("T")

ACCOUNTS = ("6222020200112233445", "6217000010001234567")
OFFERS = ((2000, 10_000), (3500, 20_000))  # (face value, min spend) of the example's batches
SHOPS = 3  # per example; the first two have a bank account from the start
TOTALS = ("cost_fen", "subsidy_fen", "unsettled_fen", "payable_fen", "in_transit_fen", "paid_fen")


@dataclass
class Redemption:
    id: int
    merchant: int
    discount: int
    day: date
    reversed: bool = False
    clawed_back: bool = False
    settled: bool = False

    @property
    def costs(self) -> bool:
        """Its subsidy is still the festival's cost (completed, never unwound)."""
        return not self.reversed and not self.clawed_back


@dataclass
class Flag:
    id: int
    merchant: int
    redemption_ids: list[int]
    status: str = "open"  # open | confirmed | dismissed
    released: bool = False


@dataclass
class Payment:
    """A bank file row: in transit until the bank answers it."""

    reference: str
    merchant: int
    amount: int
    answer: str | None = None  # paid | failed


@dataclass
class Model:
    """What the ledger must say about one example's merchants, and how far the festival's
    totals must have moved since the example began (`baseline`)."""

    shops: dict[int, Shop]
    accounts: set[int]
    today: date
    baseline: dict[str, int]
    payable: dict[int, int] = field(default_factory=dict)
    redemptions: dict[int, Redemption] = field(default_factory=dict)
    flags: dict[int, Flag] = field(default_factory=dict)
    payments: dict[str, Payment] = field(default_factory=dict)
    exports: dict[str, dict[str, Any]] = field(default_factory=dict)  # by Idempotency-Key
    bursts: set[tuple[int, date]] = field(default_factory=set)  # (merchant, day) flagged
    paid: int = 0
    # Rows of merchants of earlier examples in this example's bank files (never answered here).
    foreign_in_transit: int = 0

    def unsettled(self, merchant: int) -> int:
        return sum(
            r.discount
            for r in self.redemptions.values()
            if r.merchant == merchant and not r.settled and not r.reversed
        )

    def held(self, merchant: int) -> bool:
        return any(
            f.merchant == merchant and f.status == "confirmed" and not f.released
            for f in self.flags.values()
        )

    def cost(self) -> int:
        """Completed discounts − clawed back."""
        return sum(r.discount for r in self.redemptions.values() if r.costs)

    def in_transit(self) -> int:
        return sum(p.amount for p in self.payments.values() if p.answer is None)

    def left_out_reasons(self, merchant: int) -> set[str]:
        """Why an export must not pay the merchant its payable balance now (empty: it must)."""
        reasons = set()
        if self.payable[merchant] < 0:
            reasons.add("receivable")
        if self.held(merchant):
            reasons.add("held")
        if merchant not in self.accounts:
            reasons.add("no_account")
        return reasons


def fen_of(yuan: str) -> int:
    whole, cents = yuan.split(".")
    assert len(cents) == 2, yuan
    return int(whole) * 100 + int(cents)


async def festival_totals(api: Api) -> dict[str, int]:
    totals = (await verified(api))["checks"]["totals"]
    return {k: int(totals[k]) for k in TOTALS}


async def check_ledger(api: Api, model: Model) -> None:
    """Every invariant of the money contract against the model; AssertionError if one fails."""
    for m in model.shops:
        expected = {"unsettled": model.unsettled(m), "payable": model.payable[m]}
        assert await balances(api, m) == expected, f"merchant {m}"
    _, every = await api.call("GET", BALANCES, headers=api.bureau, expect=200)
    assert every["totals"]["sum_fen"] == 0, every["totals"]
    assert sum(b["balance_fen"] for b in every["items"]) == 0
    moved = {k: v - model.baseline[k] for k, v in (await festival_totals(api)).items()}
    cost = model.cost()
    assert moved["cost_fen"] == cost == moved["subsidy_fen"], (moved, cost)
    assert moved["paid_fen"] == model.paid, (moved, model.paid)
    assert moved["in_transit_fen"] == model.in_transit() + model.foreign_in_transit, moved
    held = sum(moved[k] for k in ("unsettled_fen", "payable_fen", "in_transit_fen", "paid_fen"))
    assert held == cost, (moved, cost)
    # The model's own books: paid + in transit + payable + unsettled = completed − clawed back.
    owed = sum(model.unsettled(m) + model.payable[m] for m in model.shops)
    assert model.paid + model.in_transit() + owed == cost


class World:
    """One example's festival: the model, and each operation on the service and the model."""

    def __init__(self, api: Api, model: Model, batches: list[int]) -> None:
        self.api = api
        self.model = model
        self.batches = batches

    @classmethod
    async def open(cls, api: Api) -> World:
        """New merchants and batches at 10:00 of a day after any an earlier example played."""
        tz = api.settings.tz
        today = business_day(api.clock.now(), tz) + timedelta(days=1)
        api.clock.at = datetime.combine(today, time(10), tz).astimezone(UTC)
        now = api.clock.now()
        batches = []
        for face, spend in OFFERS:
            made = await api.create_batch(
                face_value_fen=face,
                min_spend_fen=spend,
                quantity=5000,
                claim_starts_at=(now - timedelta(hours=1)).isoformat(),
                claim_ends_at=(now + timedelta(days=60)).isoformat(),
                valid_days=90,
            )
            batches.append(int(made["id"]))
        shops = {}
        for n in range(SHOPS):
            s = await shop(api)
            shops[s.id] = s
            if n < len(ACCOUNTS):
                await with_account(api, s.id, ACCOUNTS[n])
        model = Model(
            shops=shops,
            accounts=set(list(shops)[: len(ACCOUNTS)]),
            today=today,
            baseline=await festival_totals(api),
            payable=dict.fromkeys(shops, 0),
        )
        return cls(api, model, batches)

    # -- redemptions and reversals -------------------------------------------------------

    def _record(self, done: dict[str, Any], merchant: int, offer: int) -> None:
        face = OFFERS[offer][0]
        assert (done["status"], done["discount_fen"], done["merchant_id"]) == (
            "completed",
            face,
            merchant,
        ), done
        self.model.redemptions[done["id"]] = Redemption(
            done["id"], merchant, face, self.model.today
        )

    async def redeem(self, merchant: int, offer: int, extra_fen: int) -> None:
        order = OFFERS[offer][1] + 5000 + extra_fen  # well clear of the min spend
        sub = f"r-{uuid.uuid4().hex[:12]}"
        done = await redeem(self.api, self.model.shops[merchant], self.batches[offer], sub, order)
        self._record(done, merchant, offer)
        self.api.clock.advance(minutes=7)  # never 20 within 10 minutes: no burst by accident

    async def burst(self, merchant: int, offer: int) -> None:
        """20 redemptions in six minutes, alone in their window; the intraday scan flags them
        at once (a count rule; the merchant has no history of 7 days to compare with)."""
        self.api.clock.advance(minutes=11)
        order = OFFERS[offer][1] + 5000
        done = await series(
            self.api,
            self.model.shops[merchant],
            self.batches[offer],
            [order] * 20,
            every_minutes=0.3,
        )
        for r in done:
            self._record(r, merchant, offer)
        await scan(self.api, self.model.today, intraday=True)
        self.api.clock.advance(minutes=11)
        _, found = await self.api.call(
            "GET",
            FLAGS,
            params={"merchant_id": merchant, "rule": "burst"},
            headers=self.api.bureau,
            expect=200,
        )
        (flag,) = [f for f in found["items"] if f["date"] == self.model.today.isoformat()]
        assert flag["status"] == "open", flag
        ids = [int(i) for i in flag["evidence"]["redemption_ids"]]
        assert ids == [r["id"] for r in done], (ids, done)
        self.model.flags[flag["id"]] = Flag(flag["id"], merchant, ids)
        self.model.bursts.add((merchant, self.model.today))

    def reversible(self) -> list[int]:
        """Today's completed redemptions, never clawed back (today is never settled)."""
        return sorted(
            r.id
            for r in self.model.redemptions.values()
            if r.day == self.model.today and r.costs and not r.settled
        )

    def irreversible(self) -> list[int]:
        return sorted(set(self.model.redemptions) - set(self.reversible()))

    async def _reverse(self, redemption_id: int) -> tuple[int, Any]:
        r = self.model.redemptions[redemption_id]
        return await self.api.call(
            "POST",
            f"{REDEMPTIONS}/{redemption_id}/reversal",
            json={"reason": "退货"},
            headers=self.model.shops[r.merchant].headers,
        )

    async def reverse(self, redemption_id: int) -> None:
        status, body = await self._reverse(redemption_id)
        assert status == 200 and body["status"] == "reversed", body
        self.model.redemptions[redemption_id].reversed = True

    async def reverse_refused(self, redemption_id: int) -> None:
        """A reversal the contract refuses, and nothing moves."""
        r = self.model.redemptions[redemption_id]
        if r.clawed_back:
            expected = {"already_clawed_back"}
        elif r.reversed and r.day == self.model.today:
            expected = {"not_redeemed"}
        elif r.reversed:  # twice, and on another day: either reason is the contract's
            expected = {"not_redeemed", "reversal_window_passed"}
        else:
            expected = {"reversal_window_passed"}
        status, body = await self._reverse(redemption_id)
        assert status == 409 and body["error"]["code"] in expected, (r, expected, body)

    # -- flags, reviews and releases -----------------------------------------------------

    async def raise_flag(self, merchant: int, redemption_ids: list[int]) -> None:
        """An open flag written straight to risk_flags (test setup, not money state)."""
        pool = self.api.client.app[keys.DB].pool
        flag_id = await pool.fetchval(
            "INSERT INTO risk_flags (merchant_id, rule, date, subject, score, evidence, raised_at)"
            " VALUES ($1, 'repeat_pair', $2, $3, 1, $4::jsonb, $5) RETURNING id",
            merchant,
            self.model.today,
            f"model-{uuid.uuid4().hex}",
            json.dumps({"redemption_ids": redemption_ids}),
            self.api.clock.now(),
        )
        self.model.flags[flag_id] = Flag(flag_id, merchant, redemption_ids)

    async def review(self, flag_id: int, decision: str) -> None:
        _, body = await self.api.call(
            "POST",
            f"{FLAGS}/{flag_id}/review",
            json={"decision": decision, "note": "模型复核"},
            headers=self.api.bureau,
            expect=200,
        )
        status = {"confirm": "confirmed", "dismiss": "dismissed"}[decision]
        assert body["status"] == status, body
        self.model.flags[flag_id].status = status

    async def release(self, flag_id: int, clawback: bool) -> None:
        flag = self.model.flags[flag_id]
        due = [self.model.redemptions[i] for i in flag.redemption_ids]
        due = [r for r in due if r.costs] if clawback else []
        _, body = await self.api.call(
            "POST",
            f"{FLAGS}/{flag_id}/release",
            json={"clawback": clawback, "note": "模型解除"},
            headers=self.api.bureau,
            expect=200,
        )
        flag.released = True
        for r in due:
            r.clawed_back = True
            self.model.payable[r.merchant] -= r.discount
        assert body["clawed_back_fen"] == sum(r.discount for r in due), (body, due)
        assert body["clawed_back_redemptions"] == len(due), (body, due)
        assert body["still_held"] is self.model.held(flag.merchant), body
        assert body["flag"]["released_at"] is not None, body

    async def release_refused(self, flag_id: int) -> None:
        """Only a confirmed flag still holding can be released; nothing moves."""
        status, body = await self.api.call(
            "POST",
            f"{FLAGS}/{flag_id}/release",
            json={"clawback": True, "note": "再次解除"},
            headers=self.api.bureau,
        )
        assert status == 409, body

    # -- days, bank files and returns ----------------------------------------------------

    async def next_day(self, settle_it: bool) -> None:
        """10:00 of the next day; the night before, yesterday's settlement (or none: the next
        one takes what is left of every day up to its own)."""
        yesterday = self.model.today
        self.model.today = yesterday + timedelta(days=1)
        tz = self.api.settings.tz
        self.api.clock.at = datetime.combine(self.model.today, time(10), tz).astimezone(UTC)
        if not settle_it:
            return
        await settle(self.api, yesterday)
        for r in self.model.redemptions.values():
            if r.day <= yesterday and not r.settled:
                r.settled = True
                if not r.reversed:
                    self.model.payable[r.merchant] += r.discount

    async def export(self) -> None:
        api, model = self.api, self.model
        _, before = await api.call(
            "GET", BALANCES, params={"kind": "payable"}, headers=api.bureau, expect=200
        )
        owed = {b["merchant_id"]: b["balance_fen"] for b in before["items"]}
        key = f"model-{uuid.uuid4().hex}"
        made = await export(api, key)
        rows = await file_rows(api, made["id"])
        assert len(rows) == made["rows"], made
        assert sum(fen_of(r["amount_yuan"]) for r in rows) == made["total_fen"], made
        paid_to: dict[int, tuple[str, int]] = {}
        for row in rows:
            mid, amount = int(row["merchant_id"]), fen_of(row["amount_yuan"])
            assert mid not in paid_to, rows  # one row per merchant
            assert amount > 0 and amount == owed.get(mid), (row, owed.get(mid))
            paid_to[mid] = (row["reference"], amount)
            if mid not in model.shops:  # a merchant of an earlier example: never a held one
                _, confirmed = await api.call(
                    "GET",
                    FLAGS,
                    params={"merchant_id": mid, "status": "confirmed"},
                    headers=api.bureau,
                    expect=200,
                )
                assert all(f["released_at"] for f in confirmed["items"]), (row, confirmed)
                model.foreign_in_transit += amount
        left_out = {e["merchant_id"]: e for e in made["left_out"]}
        assert len(left_out) == len(made["left_out"]), made
        for m in model.shops:
            balance, reasons = model.payable[m], model.left_out_reasons(m)
            if balance == 0:
                assert m not in paid_to and m not in left_out, (m, made, rows)
            elif not reasons:
                assert m not in left_out and paid_to.get(m, ("", 0))[1] == balance, (m, made, rows)
            else:
                assert m not in paid_to, (m, reasons, rows)
                assert left_out[m]["reason"] in reasons, (m, reasons, made)
                assert left_out[m]["balance_fen"] == balance, (m, made)
        for m, (reference, amount) in paid_to.items():
            if m in model.shops:
                model.payable[m] -= amount
                model.payments[reference] = Payment(reference, m, amount)
        model.exports[key] = made

    async def export_again(self, key: str) -> None:
        """A retry with the same key: the same answer, and nothing moves."""
        assert await export(self.api, key) == self.model.exports[key]

    def in_transit(self) -> list[str]:
        return sorted(p.reference for p in self.model.payments.values() if p.answer is None)

    def answered(self) -> list[str]:
        return sorted(p.reference for p in self.model.payments.values() if p.answer)

    async def answer(self, answers: list[tuple[str, str]], amounts: bool) -> None:
        payments = [self.model.payments[ref] for ref, _ in answers]
        if amounts:
            text = "reference,status,amount_yuan\n" + "".join(
                f"{p.reference},{s},{p.amount // 100}.{p.amount % 100:02d}\n"
                for p, (_, s) in zip(payments, answers, strict=True)
            )
        else:
            text = "reference,status\n" + "".join(f"{ref},{s}\n" for ref, s in answers)
        status, body = await returns(self.api, text)
        assert status == 200, body
        paid = [p for p, (_, s) in zip(payments, answers, strict=True) if s == "paid"]
        failed = [p for p, (_, s) in zip(payments, answers, strict=True) if s == "failed"]
        assert body == {
            "rows": len(answers),
            "paid": len(paid),
            "failed": len(failed),
            "paid_fen": sum(p.amount for p in paid),
            "failed_fen": sum(p.amount for p in failed),
        }, body
        for p in paid:
            p.answer = "paid"
            self.model.paid += p.amount
        for p in failed:
            p.answer = "failed"
            self.model.payable[p.merchant] += p.amount

    async def answer_again(self, reference: str, status: str, beside: str | None) -> None:
        """A payment answered before → already_returned; the file is refused whole, so a
        payment still in transit beside it stays in transit."""
        text = f"reference,status\n{reference},{status}\n"
        if beside is not None:
            text += f"{beside},paid\n"
        assert_error(*await returns(self.api, text), 409, "already_returned")


def machine_for(api: Api, loop: asyncio.AbstractEventLoop) -> type[RuleBasedStateMachine]:
    """The state machine, run in a worker thread; each step's HTTP calls run on the test's
    event loop (where the app is served)."""

    def run(coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout=300)

    class MoneyMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.world = run(World.open(api))
            self.exported_on: set[date] = set()
            self.refused: set[int] = set()  # flags whose release was refused once already
            self.retried: set[str] = set()  # exports retried once already
            self.tried: set[int] = set()  # redemptions whose reversal was refused once already

        @property
        def model(self) -> Model:
            return self.world.model

        def merchants(self) -> list[int]:
            return sorted(self.model.shops)

        def today(self) -> int:
            return sum(r.day == self.model.today for r in self.model.redemptions.values())

        @precondition(lambda self: self.today() < 8)  # the other rules get their turn too
        @rule(data=st.data(), count=st.integers(1, 3))
        def redeem(self, data: st.DataObject, count: int) -> None:
            for _ in range(count):
                merchant = data.draw(st.sampled_from(self.merchants()), label="merchant")
                offer = data.draw(st.integers(0, len(OFFERS) - 1), label="offer")
                extra = data.draw(st.integers(0, 5000), label="extra_fen")
                run(self.world.redeem(merchant, offer, extra))

        def can_burst(self, merchant: int) -> bool:
            """A burst flag only when it cannot be the same flag twice and the merchant has
            no week of history to compare with (then 20 is enough)."""
            model = self.model
            week = model.today - timedelta(days=7)
            return (
                not any(
                    r.merchant == merchant and week <= r.day < model.today
                    for r in model.redemptions.values()
                )
                and (merchant, model.today) not in model.bursts
            )

        @precondition(  # one per example: 20 redemptions and a scan are the slowest step
            lambda self: not self.model.bursts and any(self.can_burst(m) for m in self.model.shops)
        )
        @rule(data=st.data(), offer=st.integers(0, len(OFFERS) - 1))
        def burst(self, data: st.DataObject, offer: int) -> None:
            merchant = data.draw(
                st.sampled_from([m for m in self.merchants() if self.can_burst(m)]),
                label="merchant",
            )
            run(self.world.burst(merchant, offer))

        @precondition(lambda self: bool(self.world.reversible()))
        @rule(data=st.data())
        def reverse(self, data: st.DataObject) -> None:
            run(self.world.reverse(data.draw(st.sampled_from(self.world.reversible()))))

        def untried(self) -> list[int]:
            return [i for i in self.world.irreversible() if i not in self.tried]

        @precondition(lambda self: bool(self.untried()))
        @rule(data=st.data())
        def reverse_refused(self, data: st.DataObject) -> None:
            redemption_id = data.draw(st.sampled_from(self.untried()), label="redemption")
            run(self.world.reverse_refused(redemption_id))
            self.tried.add(redemption_id)

        def clawed_back(self) -> list[int]:
            return [i for i in self.untried() if self.model.redemptions[i].clawed_back]

        @precondition(lambda self: bool(self.clawed_back()))
        @rule(data=st.data())
        def reverse_clawed_back(self, data: st.DataObject) -> None:
            redemption_id = data.draw(st.sampled_from(self.clawed_back()), label="redemption")
            run(self.world.reverse_refused(redemption_id))  # already_clawed_back
            self.tried.add(redemption_id)

        @precondition(lambda self: bool(self.model.redemptions) and len(self.model.flags) < 4)
        @rule(data=st.data())
        def raise_flag(self, data: st.DataObject) -> None:
            merchants = sorted({r.merchant for r in self.model.redemptions.values()})
            merchant = data.draw(st.sampled_from(merchants), label="merchant")
            own = sorted(i for i, r in self.model.redemptions.items() if r.merchant == merchant)
            ids = data.draw(
                st.lists(st.sampled_from(own), min_size=1, max_size=6, unique=True), label="ids"
            )
            run(self.world.raise_flag(merchant, sorted(ids)))

        def flags(self, status: str, released: bool = False) -> list[int]:
            return sorted(
                f.id
                for f in self.model.flags.values()
                if f.status == status and f.released is released
            )

        @precondition(lambda self: bool(self.flags("open")))
        @rule(data=st.data())
        def confirm(self, data: st.DataObject) -> None:
            run(self.world.review(data.draw(st.sampled_from(self.flags("open"))), "confirm"))

        @precondition(lambda self: bool(self.flags("open")))
        @rule(data=st.data())
        def dismiss(self, data: st.DataObject) -> None:
            run(self.world.review(data.draw(st.sampled_from(self.flags("open"))), "dismiss"))

        @precondition(lambda self: bool(self.flags("confirmed")))
        @rule(data=st.data())
        def release_with_clawback(self, data: st.DataObject) -> None:
            run(self.world.release(data.draw(st.sampled_from(self.flags("confirmed"))), True))

        @precondition(lambda self: bool(self.flags("confirmed")))
        @rule(data=st.data())
        def release_without_clawback(self, data: st.DataObject) -> None:
            run(self.world.release(data.draw(st.sampled_from(self.flags("confirmed"))), False))

        def unreleasable(self) -> list[int]:
            done = self.flags("confirmed", released=True) + self.flags("dismissed")
            return [f for f in done if f not in self.refused]

        @precondition(lambda self: bool(self.unreleasable()))
        @rule(data=st.data())
        def release_refused(self, data: st.DataObject) -> None:
            flag_id = data.draw(st.sampled_from(self.unreleasable()))
            run(self.world.release_refused(flag_id))
            self.refused.add(flag_id)

        @precondition(lambda self: self.today() > 0)
        @rule(settle_it=st.sampled_from([True, True, True, False]))
        def next_day(self, settle_it: bool) -> None:
            run(self.world.next_day(settle_it))

        def export_due(self) -> bool:
            """Someone of ours is owed and may be paid; or is owed but left out, and no bank
            file was made today yet."""
            model = self.model
            if any(v > 0 and not model.left_out_reasons(m) for m, v in model.payable.items()):
                return True
            return any(model.payable.values()) and model.today not in self.exported_on

        @precondition(lambda self: self.export_due())
        @rule()
        def export(self) -> None:
            run(self.world.export())
            self.exported_on.add(self.model.today)

        def not_retried(self) -> list[str]:
            return sorted(set(self.model.exports) - self.retried)

        @precondition(lambda self: bool(self.not_retried()))
        @rule(data=st.data())
        def export_again(self, data: st.DataObject) -> None:
            key = data.draw(st.sampled_from(self.not_retried()), label="key")
            run(self.world.export_again(key))
            self.retried.add(key)

        @precondition(lambda self: bool(self.world.in_transit()))
        @rule(data=st.data(), amounts=st.booleans())
        def answer(self, data: st.DataObject, amounts: bool) -> None:
            refs = data.draw(
                st.lists(st.sampled_from(self.world.in_transit()), min_size=1, unique=True),
                label="references",
            )
            statuses = data.draw(
                st.lists(
                    st.sampled_from(["paid", "failed"]), min_size=len(refs), max_size=len(refs)
                ),
                label="statuses",
            )
            run(self.world.answer(list(zip(refs, statuses, strict=True)), amounts))

        @precondition(lambda self: bool(self.world.answered()))
        @rule(data=st.data(), status=st.sampled_from(["paid", "failed"]))
        def answer_again(self, data: st.DataObject, status: str) -> None:
            reference = data.draw(st.sampled_from(self.world.answered()), label="reference")
            pending = self.world.in_transit()
            beside = data.draw(st.none() | st.sampled_from(pending)) if pending else None
            run(self.world.answer_again(reference, status, beside))

        @precondition(lambda self: len(self.model.accounts) < len(self.model.shops))
        @rule(data=st.data())
        def open_account(self, data: st.DataObject) -> None:
            without = sorted(set(self.model.shops) - self.model.accounts)
            merchant = data.draw(st.sampled_from(without), label="merchant")
            run(with_account(api, merchant, ACCOUNTS[0]))
            self.model.accounts.add(merchant)

        @invariant()
        def ledger_matches_the_model(self) -> None:
            run(check_ledger(api, self.model))

    return MoneyMachine


# The suite's run: 25 examples of 30 steps, the same ones every time. A longer, random run:
# FESTIVAL_MODEL_EXAMPLES=200 FESTIVAL_MODEL_STEPS=40 FESTIVAL_MODEL_RANDOM=1 pytest this file.
MODEL_SETTINGS = settings(
    max_examples=int(os.environ.get("FESTIVAL_MODEL_EXAMPLES", "25")),
    stateful_step_count=int(os.environ.get("FESTIVAL_MODEL_STEPS", "30")),
    deadline=None,
    derandomize=not os.environ.get("FESTIVAL_MODEL_RANDOM"),
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


async def test_money_flows_match_the_model(api: Api) -> None:
    machine = machine_for(api, asyncio.get_running_loop())
    await asyncio.to_thread(run_state_machine_as_test, machine, settings=MODEL_SETTINGS)
    await verified(api)


async def test_the_model_check_catches_a_wrong_balance(api: Api) -> None:
    """The check can fail: a transfer edited behind the ledger's back (its append-only
    trigger off) no longer matches the model, nor does a model that forgot a clawback."""
    world = await World.open(api)
    m = next(iter(world.model.shops))
    await world.redeem(m, 0, 0)
    await world.redeem(m, 1, 0)
    await world.next_day(settle_it=True)
    await check_ledger(api, world.model)

    world.model.payable[m] -= 1  # a model one fen off
    with pytest.raises(AssertionError):
        await check_ledger(api, world.model)
    world.model.payable[m] += 1
    await check_ledger(api, world.model)

    pool = api.client.app[keys.DB].pool
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("ALTER TABLE transfers DISABLE TRIGGER transfers_append_only")
        await conn.execute(
            "UPDATE transfers SET amount_fen = amount_fen + 100"
            " WHERE kind = 'settlement' AND merchant_id = $1",
            m,
        )
        await conn.execute("ALTER TABLE transfers ENABLE TRIGGER transfers_append_only")
    with pytest.raises(AssertionError, match=f"merchant {m}"):
        await check_ledger(api, world.model)
