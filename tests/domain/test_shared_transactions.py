"""Poison in a combined transaction (the hardening review, issue 11): claims and checkouts
share a transaction to go fast, and one that fails (a NUL, a lone surrogate, a broken sub)
fails alone, never at the other clients' expense; a database that is away fails the flush at
once."""

from __future__ import annotations

import asyncio
import json
import time

import jwt
import pytest

from service import keys
from service.domain.redemptions import Checkout
from service.errors import DomainError, ErrorCode
from tests.conftest import TEST_SECRET, Api, assert_error
from tests.support.checkout import (
    cashier,
    checkout_body,
    claimed_codes,
    post_redemption,
)

REDEMPTIONS = "/api/v1/merchant/redemptions"
NUL, SURROGATE = "\x00", "\ud800"


@pytest.mark.parametrize("poison", [NUL, SURROGATE], ids=["nul", "lone-surrogate"])
async def test_a_poisoned_checkout_fails_alone_among_concurrent_ones(api: Api, poison: str) -> None:
    """Five checkouts at once, one with unstorable text in order_ref: it alone is refused
    (400), the other four, of another merchant, are redeemed."""
    codes = await claimed_codes(api, 5)
    bad, good = await cashier(api), await cashier(api)
    # json.dumps writes the lone surrogate as the escape \ud800, as a hostile client would.
    poisoned = json.dumps(checkout_body(codes[0], ref=f"POS{poison}1"))
    answers = await asyncio.gather(
        post_redemption(api, bad, poisoned),
        *(
            post_redemption(api, good, checkout_body(c, ref=f"POS-{i}"))
            for i, c in enumerate(codes[1:])
        ),
    )
    assert_error(*answers[0], 400, "invalid_request")
    assert [s for s, _ in answers[1:]] == [201] * 4, answers
    assert {b["code"] for _, b in answers[1:]} == set(codes[1:])


async def test_a_token_whose_sub_holds_nul_is_refused_and_the_crowd_still_claims(
    api: Api,
) -> None:
    batch = await api.create_batch(quantity=100)
    path = f"/api/v1/batches/{batch['id']}/claims"
    now = int(time.time())
    bad_tokens = [
        jwt.encode(
            {
                "iss": "huaiyin-festival",
                "aud": "festival-api",
                "sub": f"evil{ch}{i}",
                "role": "resident",
                "iat": now,
                "exp": now + 600,
            },
            TEST_SECRET,
            algorithm="HS256",
        )
        for i, ch in enumerate([NUL, SURROGATE, "\n", "\x1b"])
    ]
    bad = [api.call("POST", path, headers={"Authorization": f"Bearer {t}"}) for t in bad_tokens]
    good = [api.call("POST", path, headers=api.auth("resident", f"r{i}")) for i in range(60)]
    answers = await asyncio.gather(*bad, *good)
    for answer in answers[: len(bad)]:
        assert_error(*answer, 401, "unauthorized")
    assert [s for s, _ in answers[len(bad) :]] == [201] * 60


async def test_claim_combiner_settles_a_failing_claim_alone(api: Api) -> None:
    """Past validation (a token the service would refuse, handed straight to the app's own
    combiner): 300 concurrent claims share one flush, three of them unstorable. The three
    fail, each alone; the 297 others get their vouchers, exactly one row each."""
    batch = await api.create_batch(quantity=1000)
    combiner = api.client.app[keys.CLAIMS]
    subs = [f"c{i}" for i in range(300)]
    poisoned = {17: f"x{NUL}", 150: f"y{NUL}", 299: f"z{NUL}"}
    for i, sub in poisoned.items():
        subs[i] = sub
    outcomes = await asyncio.gather(
        *(combiner.claim(batch["id"], sub) for sub in subs), return_exceptions=True
    )
    failed = [i for i, o in enumerate(outcomes) if isinstance(o, BaseException)]
    assert failed == sorted(poisoned)
    won = [o for o in outcomes if not isinstance(o, BaseException)]
    assert len({o.code for o in won}) == 297
    db = api.client.app[keys.DB]
    async with db.connection() as conn:
        rows = await conn.raw.fetchval(
            "SELECT count(*) FROM vouchers WHERE batch_id = $1", batch["id"]
        )
        claimed = await conn.raw.fetchval("SELECT claimed FROM batches WHERE id = $1", batch["id"])
    assert rows == claimed == 297


async def test_redemption_combiner_settles_a_failing_checkout_alone(api: Api) -> None:
    """200 checkouts of two merchants in one flush, three with an unstorable order_ref handed
    straight to the app's combiner: those three fail; the others are redeemed, each once,
    with their answers stored."""
    codes = await claimed_codes(api, 200)
    one, two = await cashier(api), await cashier(api)
    poisoned = {0, 99, 199}
    checkouts = [
        Checkout(
            merchant_id=(one if i % 2 else two)["id"],
            key=f"k-{i}",
            code=code,
            order_amount_fen=12000,
            order_ref=f"POS{NUL}{i}" if i in poisoned else f"POS-{i}",
        )
        for i, code in enumerate(codes)
    ]
    combiner = api.client.app[keys.REDEMPTIONS]
    outcomes = await asyncio.gather(
        *(combiner.redeem(c) for c in checkouts), return_exceptions=True
    )
    assert {i for i, o in enumerate(outcomes) if isinstance(o, BaseException)} == poisoned
    answers = [o for o in outcomes if not isinstance(o, BaseException)]
    assert {status for status, _ in answers} == {201}
    db = api.client.app[keys.DB]
    async with db.connection() as conn:
        completed = await conn.raw.fetchval(
            "SELECT count(*) FROM redemptions WHERE status = 'completed'"
        )
        stored = await conn.raw.fetchval("SELECT count(*) FROM idempotency_keys")
    assert completed == stored == 197


async def test_an_unavailable_database_fails_the_flush_at_once_without_halving(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    """An outage is every request's own answer: no flush is split to retry a dead server."""
    from service.combiner import Combiner

    calls: list[int] = []

    async def flush(_: None, requests: list[int]) -> list[int | DomainError]:
        calls.append(len(requests))
        raise DomainError(ErrorCode.UNAVAILABLE, "down", retry_after=2)

    combiner: Combiner[None, int, int] = Combiner("t", flush, max_size=100)
    outcomes = await asyncio.gather(
        *(combiner.submit(None, i) for i in range(40)), return_exceptions=True
    )
    assert calls == [40]
    assert all(isinstance(o, DomainError) and o.code == "unavailable" for o in outcomes)
