"""The production topology on one machine (deploy/topology.py): nginx → three API processes →
PgBouncer (transaction pooling) → PostgreSQL, with two schedulers. A flash crowd and
concurrent redemptions go through all of it; then an API process is stopped mid-load."""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "deploy"))
from topology import Topology, missing_tools

from tests.conftest import TEST_SECRET
from tests.support.factories import insert_batch, merchant_body
from tests.support.reconcile import vouchers_by_resident
from tests.support.tokens import bearer

pytestmark = pytest.mark.skipif(
    bool(missing_tools()),
    reason=f"not installed: {', '.join(missing_tools())} (make test installs them with apt-get)",
)


async def call(
    session: aiohttp.ClientSession, base: str, method: str, path: str, **kw: Any
) -> tuple[int, Any]:
    async with session.request(method, base + path, **kw) as resp:
        try:
            return resp.status, await resp.json()
        except aiohttp.ContentTypeError:
            return resp.status, await resp.text()


async def batch(session: aiohttp.ClientSession, base: str, quantity: int, starts: datetime) -> int:
    status, body = await call(
        session,
        base,
        "POST",
        "/api/v1/admin/batches",
        headers=bearer("bureau", "ops"),
        json={
            "category": "dining",
            "title": "餐饮券",
            "face_value_fen": 1000,
            "min_spend_fen": 5000,
            "quantity": quantity,
            "per_resident_limit": 1,
            "claim_starts_at": starts.isoformat(),
            "claim_ends_at": (datetime.now(UTC) + timedelta(hours=2)).isoformat(),
            "valid_days": 7,
        },
    )
    assert status == 201, body
    return int(body["id"])


async def claim_wave(
    session: aiohttp.ClientSession, base: str, batch_id: int, n: int
) -> list[tuple[str, int, Any]]:
    subs = [f"crowd-{uuid.uuid4().hex[:10]}" for _ in range(n)]
    results = await asyncio.gather(
        *(
            call(
                session,
                base,
                "POST",
                f"/api/v1/batches/{batch_id}/claims",
                headers=bearer("resident", sub),
            )
            for sub in subs
        )
    )
    return [(sub, status, body) for sub, (status, body) in zip(subs, results, strict=True)]


async def test_the_topology_serves_a_flash_crowd_and_survives_losing_a_process(
    db_url: str, tmp_path: Path
) -> None:
    topology = Topology(
        db_url, tmp_path / "topology", apis=3, env={"FESTIVAL_JWT_SECRET": TEST_SECRET}
    )
    # A festival that began two days ago: both schedulers catch up on it as they start.
    now = datetime.now(UTC)
    await insert_batch(db_url, now - timedelta(days=2, hours=1), now + timedelta(days=1))
    with topology:
        base = topology.base
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            status, created = await call(
                session,
                base,
                "POST",
                "/api/v1/admin/merchants",
                json=merchant_body(category="dining"),
                headers=bearer("bureau", "ops"),
            )
            assert status == 201, created
            mid = created["merchant"]["id"]

            # 1. A flash crowd: 500 residents, 100 vouchers.
            flash = await batch(session, base, 100, now - timedelta(minutes=1))
            wave = await claim_wave(session, base, flash, 500)
            assert Counter(s for _, s, _ in wave) == {201: 100, 409: 400}
            codes = [body["code"] for _, s, body in wave if s == 201]

            # 2. Redemptions: 60 vouchers at once, and one voucher by 20 checkouts at once.
            merchant = bearer("merchant", f"merchant:{mid}", mid)
            jobs = [
                call(
                    session,
                    base,
                    "POST",
                    "/api/v1/merchant/redemptions",
                    headers={**merchant, "Idempotency-Key": f"k-{code}"},
                    json={"code": code, "order_amount_fen": 6600, "order_ref": code},
                )
                for code in codes[:60]
            ] + [
                call(
                    session,
                    base,
                    "POST",
                    "/api/v1/merchant/redemptions",
                    headers={**merchant, "Idempotency-Key": f"same-{i}"},
                    json={"code": codes[60], "order_amount_fen": 6600, "order_ref": f"r{i}"},
                )
                for i in range(20)
            ]
            redeemed = await asyncio.gather(*jobs)
            assert [s for s, _ in redeemed[:60]] == [201] * 60
            assert Counter(s for s, _ in redeemed[60:]) == {201: 1, 409: 19}

            # 3. A rolling restart under load: every API process drained and started again in
            #    turn while residents keep claiming. Every request is answered: no reset, no
            #    502 (the processes share one socket; nginx drops idle connections in 1 s).
            second = await batch(session, base, 400, now - timedelta(minutes=1))
            during: list[tuple[str, int, Any]] = []
            restarting = True

            async def keep_claiming() -> None:
                while restarting:
                    during.extend(await claim_wave(session, base, second, 20))

            load = asyncio.create_task(keep_claiming())
            await asyncio.sleep(0.3)
            for i in range(topology.apis):
                await asyncio.to_thread(topology.restart_api, i)
            restarting = False
            await load
            statuses = Counter(s for _, s, _ in during)
            assert set(statuses) <= {201, 409}, statuses  # zero resets, zero 502s
            assert statuses[201] > 0 and sum(statuses.values()) >= 100, statuses

        conn = await asyncpg.connect(db_url)
        try:
            rows = await vouchers_by_resident(conn, second)
            twice = await conn.fetchval(
                "SELECT count(*) FROM (SELECT voucher_id FROM redemptions WHERE status = 'completed'"
                " GROUP BY voucher_id HAVING count(*) > 1) x"
            )
            # 4. Two schedulers caught up on the same days: each (job, period) ran once.
            for _ in range(100):
                runs = await conn.fetch(
                    "SELECT job, period, attempts, status FROM job_runs"
                    " WHERE job IN ('daily_rollup', 'settlement')"
                )
                if len(runs) >= 4:
                    break
                await asyncio.sleep(0.2)
        finally:
            await conn.close()
        # Nothing lost: each 201 is its resident's row, and no more than the stock was issued.
        answered = {sub: body["code"] for sub, s, body in during if s == 201}
        assert answered.items() <= rows.items()
        assert len(rows) == len(answered) <= 400 and twice == 0
        periods = Counter((r["job"], r["period"]) for r in runs)
        assert len(periods) >= 4 and set(periods.values()) == {1}
        assert {r["attempts"] for r in runs} == {1} and {r["status"] for r in runs} == {"succeeded"}
    for name, process in topology.processes.items():
        assert process.poll() is not None, f"{name} still running after down()"
        log = (tmp_path / "topology" / f"{name}.log").read_text()
        assert "Traceback" not in log, log
