"""Several vouchers in one checkout, exactly once under concurrency, as single redemptions are.

Two checkouts sharing a voucher, from two processes of the service, interleaved for certain:
the first is stopped half-way holding its vouchers' row locks (its key's row, which its last
statement writes, is held uncommitted by the test), the second is seen waiting for the shared
voucher in pg_stat_activity; then the first is let go. One wins whole, the other changes
nothing. Then hundreds of single and several-voucher checkouts over shared vouchers at once,
from two processes: no voucher redeemed twice, every answer matching the database, the ledger
exact."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from typing import Any

import pytest

from service import keys
from service.app import create_app
from tests.conftest import REDEMPTIONS, Api, assert_error
from tests.support.checkouts import by_codes, statuses, transfers_of, wallet
from tests.support.money import verified
from tests.support.races import holding, started, waiting


async def second_process(api: Api, aiohttp_client: Any) -> Api:
    """Another process of the service on the same database (its own combiner and pool)."""
    app = create_app(settings=api.settings, clock=api.clock, sms=api.sms)
    return Api(await aiohttp_client(app), api.settings, api.clock, api.sms)


def body_of(codes: list[str], *, several: bool) -> dict[str, Any]:
    if several:
        return by_codes(codes, 10_000 * len(codes))
    (code,) = codes
    return {"code": code, "order_amount_fen": 10_000, "order_ref": "POS-1"}


async def post(api: Api, headers: dict[str, str], body: dict[str, Any], key: str) -> Any:
    return await api.call(
        "POST", REDEMPTIONS, json=body, headers={**headers, "Idempotency-Key": key}
    )


@pytest.mark.parametrize(
    ("first_several", "second_several"),
    [(True, True), (False, True), (True, False)],
    ids=["checkout-vs-checkout", "single-vs-checkout", "checkout-vs-single"],
)
async def test_two_checkouts_sharing_a_voucher_one_wins_whole_the_other_changes_nothing(
    api: Api, aiohttp_client: Any, first_several: bool, second_several: bool
) -> None:
    x, shared, y = await wallet(api, "alice", 3)
    shop = await api.merchant()
    other = await second_process(api, aiohttp_client)
    first = body_of([x, shared] if first_several else [shared], several=first_several)
    second = body_of([shared, y] if second_several else [shared], several=second_several)
    # The first checkout's key, written uncommitted by the test: its flush locks its vouchers,
    # decides, and stops at its last statement, waiting for this row, until the block ends.
    hold_key = (
        "INSERT INTO idempotency_keys (merchant_id, key, fingerprint, status_code, response,"
        " created_at) VALUES ($1, 'first', '\\x00', 409, '{}', now())"
    )
    async with holding(api, hold_key, shop.id, rollback=True):
        winning = started(post(api, shop.headers, first, "first"))
        await waiting(api, 1)  # holds x and the shared voucher's rows, waits for its key row
        losing = started(post(other, shop.headers, second, "second"))
        await waiting(api, 2)  # the other process waits for the shared voucher's row
        db = api.client.app[keys.DB]
        assert await db.pool.fetchval("SELECT count(*) FROM redemptions") == 0
    status, won = await winning
    assert status == 201, won
    status, lost = await losing
    assert_error(status, lost, 409, "already_redeemed")
    assert lost["error"]["details"] == {"code": shared}
    # The first made every one of its redemptions; the second none, its other voucher untouched.
    won_items = won["items"] if first_several else [won]
    assert sorted(i["code"] for i in won_items) == sorted(
        [x, shared] if first_several else [shared]
    )
    expected = {x: "redeemed" if first_several else "active", shared: "redeemed", y: "active"}
    assert await statuses(api, [x, shared, y]) == [expected[x], expected[shared], expected[y]]
    ids = [i["id"] for i in won_items]
    assert await transfers_of(api, ids) == [("redemption", str(i), 2000) for i in ids]
    rows = await db.pool.fetch("SELECT idempotency_key FROM redemptions")
    assert {r["idempotency_key"] for r in rows} == {"first"}
    # Each answer is the one its key replays, in either process.
    for process, body, key, answer in ((other, first, "first", won), (api, second, "second", lost)):
        assert (await post(process, shop.headers, body, key))[1] == answer
    await verified(api)


async def test_hundreds_of_mixed_checkouts_over_shared_vouchers_redeem_each_voucher_once(
    api: Api, aiohttp_client: Any
) -> None:
    rng = random.Random(24)
    codes: list[str] = []
    for n in range(6):
        codes += await wallet(api, f"holder-{n}", 8)
    shop = await api.merchant()
    processes = [api, await second_process(api, aiohttp_client)]
    requests = []
    for n in range(320):
        several = rng.random() < 0.5
        picked = rng.sample(codes, rng.randint(2, 4) if several else 1)
        requests.append((processes[n % 2], body_of(picked, several=several), f"k{n}"))
    # A few retries of the same request under its key, at the same time.
    requests += [(processes[(n + 1) % 2], body, key) for _, body, key in requests[:20]]
    rng.shuffle(requests)
    answers = await asyncio.gather(
        *(post(process, shop.headers, body, key) for process, body, key in requests)
    )
    by_key: dict[str, list[tuple[int, Any]]] = {}
    for (_, _, key), answer in zip(requests, answers, strict=True):
        by_key.setdefault(key, []).append(answer)
    # A key's answers are one answer, however many times it was sent.
    assert all(len({str(a) for a in found}) == 1 for found in by_key.values())
    outcomes = {key: found[0] for key, found in by_key.items()}
    assert Counter(status for status, _ in outcomes.values()).keys() <= {201, 409}
    redeemed_by: dict[str, str] = {}
    for key, (status, body) in outcomes.items():
        if status == 201:
            for item in body.get("items", [body]):
                assert item["code"] not in redeemed_by, (item["code"], key, redeemed_by)
                redeemed_by[item["code"]] = key
        else:
            assert body["error"]["code"] == "already_redeemed", body
    db = api.client.app[keys.DB]
    rows = await db.pool.fetch(
        "SELECT v.code, r.idempotency_key, r.status FROM redemptions r"
        " JOIN vouchers v ON v.id = r.voucher_id"
    )
    assert {r["code"]: r["idempotency_key"] for r in rows} == redeemed_by
    assert len(rows) == len(redeemed_by)  # no voucher twice, nothing but the answers' items
    assert all(r["status"] == "completed" for r in rows)
    active = [c for c, s in zip(codes, await statuses(api, codes), strict=True) if s == "active"]
    assert set(active) == set(codes) - set(redeemed_by)
    # Both kinds won some: singles and checkouts of several really competed.
    assert {(201, False), (201, True)} <= {(s, "items" in b) for s, b in outcomes.values()}
    assert len(redeemed_by) > 0.8 * len(codes)  # contention, not starvation
    moved = await db.pool.fetchval("SELECT count(*) FROM transfers WHERE kind = 'redemption'")
    assert moved == len(rows)
    await verified(api)
