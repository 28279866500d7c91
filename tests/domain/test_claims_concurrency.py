"""Flash crowds and checkout races against two real `festival serve` processes sharing one
database: no oversell, no resident over its limit, no voucher redeemed twice, and every 201
matched by a row (and every row by a 201)."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import asyncpg
import pytest

from tests.conftest import create_database, drop_database, with_database
from tests.support.factories import live_batch_body, merchant_body
from tests.support.processes import Server, festival_env, serving
from tests.support.tokens import bearer


@dataclass
class Cluster:
    servers: list[Server]
    database_url: str
    session: aiohttp.ClientSession

    def base(self, i: int) -> str:
        return self.servers[i % len(self.servers)].base

    async def call(self, i: int, method: str, path: str, **kw: Any) -> tuple[int, Any]:
        async with self.session.request(method, self.base(i) + path, **kw) as resp:
            return resp.status, await resp.json()

    async def sql(self, query: str, *args: Any) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.database_url)
        try:
            return await conn.fetch(query, *args)
        finally:
            await conn.close()

    async def batch(self, **overrides: Any) -> int:
        body = live_batch_body(**overrides)
        status, created = await self.call(
            0, "POST", "/api/v1/admin/batches", json=body, headers=bearer("bureau", "ops")
        )
        assert status == 201, created
        return int(created["id"])

    async def merchant(self, category: str = "dining") -> int:
        status, created = await self.call(
            0,
            "POST",
            "/api/v1/admin/merchants",
            json=merchant_body(category=category),
            headers=bearer("bureau", "ops"),
        )
        assert status == 201, created
        return int(created["merchant"]["id"])


@pytest.fixture(scope="module")
def cluster_db(server_url: str, template_db: str) -> Iterator[str]:
    name = asyncio.run(create_database(server_url, "festival_c", template_db))
    yield with_database(server_url, name)
    asyncio.run(drop_database(server_url, name))


@pytest.fixture(scope="module")
def two_servers(
    cluster_db: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[Server]]:
    folder = tmp_path_factory.mktemp("cluster")
    env = festival_env(cluster_db, folder, FESTIVAL_ACCESS_LOG="false")
    with (
        serving(env, folder / "a.log", "--no-scheduler") as a,
        serving(env, folder / "b.log", "--no-scheduler") as b,
    ):
        yield [a, b]
    for server in (a, b):
        assert "Traceback" not in server.log(), server.log()


@pytest.fixture
async def cluster(two_servers: list[Server], cluster_db: str) -> AsyncIterator[Cluster]:
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        yield Cluster(two_servers, cluster_db, session)


async def test_flash_crowd_of_500_on_100_vouchers_across_two_processes(cluster: Cluster) -> None:
    batch_id = await cluster.batch(quantity=100)
    residents = [f"flash-{uuid.uuid4().hex[:8]}-{i}" for i in range(500)]
    headers = [bearer("resident", sub) for sub in residents]  # prepared before the burst

    results = await asyncio.gather(
        *(
            cluster.call(i, "POST", f"/api/v1/batches/{batch_id}/claims", headers=headers[i])
            for i in range(len(residents))
        )
    )
    statuses = Counter(status for status, _ in results)
    assert statuses == {201: 100, 409: 400}, statuses
    assert {body["error"]["code"] for status, body in results if status == 409} == {"sold_out"}

    # Reconciliation: each 201 is a row, each row a 201, and each row its claimant's.
    answered = {
        body["code"]: residents[i] for i, (status, body) in enumerate(results) if status == 201
    }
    rows = await cluster.sql(
        "SELECT v.code, r.sub FROM vouchers v JOIN residents r ON r.id = v.resident_id"
        " WHERE v.batch_id = $1",
        batch_id,
    )
    assert {row["code"]: row["sub"] for row in rows} == answered
    (batch,) = await cluster.sql("SELECT claimed, quantity FROM batches WHERE id = $1", batch_id)
    assert (batch["claimed"], batch["quantity"]) == (100, 100)
    _, listed = await cluster.call(1, "GET", f"/api/v1/batches/{batch_id}")
    assert (listed["remaining"], listed["status"]) == (0, "sold_out")


async def test_both_processes_issue_from_one_stock_without_overselling(cluster: Cluster) -> None:
    """300 vouchers, 250 claimants on each process: neither can win them all, so both write
    vouchers into the same stock at the same time, and still no more than 300 are issued."""
    batch_id = await cluster.batch(quantity=300)
    headers = [bearer("resident", f"both-{uuid.uuid4().hex[:8]}-{i}") for i in range(500)]
    results = await asyncio.gather(
        *(
            cluster.call(i, "POST", f"/api/v1/batches/{batch_id}/claims", headers=headers[i])
            for i in range(500)
        )
    )
    assert Counter(status for status, _ in results) == {201: 300, 409: 200}
    by_server = Counter(i % 2 for i, (status, _) in enumerate(results) if status == 201)
    assert by_server[0] >= 50 and by_server[1] >= 50, by_server
    (batch,) = await cluster.sql("SELECT claimed FROM batches WHERE id = $1", batch_id)
    assert batch["claimed"] == 300


async def test_one_resident_sending_20_claims_at_once_gets_its_limit(cluster: Cluster) -> None:
    batch_id = await cluster.batch(quantity=50, per_resident_limit=3)
    headers = bearer("resident", f"greedy-{uuid.uuid4().hex[:8]}")
    results = await asyncio.gather(
        *(
            cluster.call(i, "POST", f"/api/v1/batches/{batch_id}/claims", headers=headers)
            for i in range(20)
        )
    )
    statuses = Counter(status for status, _ in results)
    assert statuses == {201: 3, 409: 17}, statuses
    assert {b["error"]["code"] for s, b in results if s == 409} == {"limit_reached"}
    rows = await cluster.sql(
        "SELECT slot FROM vouchers WHERE batch_id = $1 ORDER BY slot", batch_id
    )
    assert [r["slot"] for r in rows] == [1, 2, 3]


async def test_one_tap_retried_20_times_on_both_processes_claims_once(cluster: Cluster) -> None:
    """The same Idempotency-Key from one resident, 20 times at once on two processes, with
    a limit of 3: one voucher, and the same answer 20 times."""
    batch_id = await cluster.batch(quantity=50, per_resident_limit=3)
    headers = {**bearer("resident", f"tapper-{uuid.uuid4().hex[:8]}"), "Idempotency-Key": "tap-1"}
    results = await asyncio.gather(
        *(
            cluster.call(i, "POST", f"/api/v1/batches/{batch_id}/claims", headers=headers)
            for i in range(20)
        )
    )
    assert {status for status, _ in results} == {201}, results
    assert len({body["code"] for _, body in results}) == 1
    rows = await cluster.sql("SELECT count(*) AS n FROM vouchers WHERE batch_id = $1", batch_id)
    assert rows[0]["n"] == 1


async def claim_codes(cluster: Cluster, batch_id: int, n: int) -> list[str]:
    codes = []
    for i in range(n):
        status, body = await cluster.call(
            i,
            "POST",
            f"/api/v1/batches/{batch_id}/claims",
            headers=bearer("resident", f"r-{uuid.uuid4().hex[:10]}"),
        )
        assert status == 201, body
        codes.append(body["code"])
    return codes


async def redeem(
    cluster: Cluster, i: int, merchant: dict[str, str], key: str, code: str, ref: str
) -> tuple[int, Any]:
    """Checkout `i` (on server i mod 2): an order of 80 yuan with this key and reference."""
    return await cluster.call(
        i,
        "POST",
        "/api/v1/merchant/redemptions",
        headers={**merchant, "Idempotency-Key": key},
        json={"code": code, "order_amount_fen": 8000, "order_ref": f"pos-{ref}"},
    )


async def a_claimed_voucher(cluster: Cluster) -> tuple[int, dict[str, str], str]:
    """A dining merchant (its id and token) and a voucher it may redeem."""
    batch_id = await cluster.batch()
    mid = await cluster.merchant()
    (code,) = await claim_codes(cluster, batch_id, 1)
    return mid, bearer("merchant", f"merchant:{mid}", mid), code


async def test_fifty_redemptions_of_one_voucher_with_different_keys_redeem_once(
    cluster: Cluster,
) -> None:
    _, merchant, code = await a_claimed_voucher(cluster)
    results = await asyncio.gather(
        *(redeem(cluster, i, merchant, f"till-{i}", code, str(i)) for i in range(50))
    )
    statuses = Counter(status for status, _ in results)
    assert statuses == {201: 1, 409: 49}, statuses
    assert {b["error"]["code"] for s, b in results if s == 409} == {"already_redeemed"}
    rows = await cluster.sql(
        "SELECT r.status FROM redemptions r JOIN vouchers v ON v.id = r.voucher_id WHERE v.code = $1",
        code,
    )
    assert [r["status"] for r in rows] == ["completed"]


async def test_twenty_identical_requests_with_one_key_redeem_once_and_answer_alike(
    cluster: Cluster,
) -> None:
    mid, merchant, code = await a_claimed_voucher(cluster)
    results = await asyncio.gather(
        *(redeem(cluster, i, merchant, "retry-storm-1", code, "storm") for i in range(20))
    )
    assert {status for status, _ in results} == {201}
    bodies = [body for _, body in results]
    assert all(body == bodies[0] for body in bodies), bodies
    rows = await cluster.sql("SELECT count(*) AS n FROM redemptions WHERE merchant_id = $1", mid)
    assert rows[0]["n"] == 1


async def test_ledger_reconciles_after_a_mixed_concurrent_run(cluster: Cluster) -> None:
    batch_id = await cluster.batch(quantity=120, per_resident_limit=2)
    mid = await cluster.merchant()
    merchant = bearer("merchant", f"merchant:{mid}", mid)
    residents = [f"mix-{uuid.uuid4().hex[:8]}-{i}" for i in range(100)]
    claims = await asyncio.gather(
        *(
            cluster.call(
                i,
                "POST",
                f"/api/v1/batches/{batch_id}/claims",
                headers=bearer("resident", residents[i % 100]),
            )
            for i in range(200)
        )
    )
    codes = [body["code"] for status, body in claims if status == 201]
    assert len(codes) == 120
    # Redeem 80 of them concurrently, each twice with different keys (one must lose).
    redemptions = await asyncio.gather(
        *(redeem(cluster, i, merchant, f"mix-{i}", codes[i % 80], f"mix-{i}") for i in range(160))
    )
    done = [body for status, body in redemptions if status == 201]
    assert len(done) == 80
    # Reverse 30 of them concurrently, each twice (the second is not_redeemed).
    reversals = await asyncio.gather(
        *(
            cluster.call(
                i,
                "POST",
                f"/api/v1/merchant/redemptions/{done[i % 30]['id']}/reversal",
                headers=merchant,
                json={"reason": "refund"},
            )
            for i in range(60)
        )
    )
    assert Counter(status for status, _ in reversals) == {200: 30, 409: 30}

    events = {
        row["kind"]: row["n"]
        for row in await cluster.sql(
            "SELECT kind, count(*) AS n FROM voucher_events WHERE batch_id = $1 GROUP BY kind",
            batch_id,
        )
    }
    tables = (
        await cluster.sql(
            """
            SELECT (SELECT count(*) FROM vouchers WHERE batch_id = $1) AS vouchers,
                   (SELECT count(*) FROM redemptions WHERE batch_id = $1) AS redemptions,
                   (SELECT count(*) FROM redemptions WHERE batch_id = $1 AND status = 'reversed')
                       AS reversed,
                   (SELECT count(*) FROM vouchers WHERE batch_id = $1 AND status = 'redeemed')
                       AS redeemed_now
            """,
            batch_id,
        )
    )[0]
    assert events.get("claimed") == tables["vouchers"] == 120
    assert events.get("redeemed") == tables["redemptions"] == 80
    assert events.get("reversed") == tables["reversed"] == 30
    assert events["redeemed"] - events["reversed"] == tables["redeemed_now"] == 50


async def test_a_merchant_daily_cap_holds_under_redemptions_on_both_processes(
    cluster: Cluster,
) -> None:
    batch_id = await cluster.batch(quantity=60)
    mid = await cluster.merchant()
    status, patched = await cluster.call(
        1,
        "PATCH",
        f"/api/v1/admin/merchants/{mid}",
        json={"daily_subsidy_cap_fen": 10_000},  # ten 10-yuan discounts a day
        headers=bearer("bureau", "ops"),
    )
    assert status == 200 and patched["daily_subsidy_cap_fen"] == 10_000, patched
    merchant = bearer("merchant", f"merchant:{mid}", mid)
    codes = await claim_codes(cluster, batch_id, 60)
    results = await asyncio.gather(
        *(
            redeem(cluster, i, merchant, f"cap-{i}", code, f"cap-{i}")
            for i, code in enumerate(codes)
        )
    )
    assert Counter(status for status, _ in results) == {201: 10, 409: 50}
    assert {b["error"]["code"] for s, b in results if s == 409} == {"merchant_cap_reached"}
    rows = await cluster.sql(
        "SELECT sum(discount_fen) AS fen FROM redemptions WHERE merchant_id = $1 AND status = 'completed'",
        mid,
    )
    assert rows[0]["fen"] == 10_000
