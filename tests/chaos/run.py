"""`make chaos`: single faults under real load, and what each cost. Every scenario drives HTTP
load through the journal (tests/chaos/journal.py), injects one fault, lets the clients retry
what got no answer (same keys), and reconciles the journal with the database. Writes
chaos-results.json and prints a table; `--smoke` is the seconds-long version `make test` runs.

    python -m tests.chaos.run [--smoke] [--only kill_worker_claims,...] [--output FILE]

Scenarios: an API worker SIGKILLed mid flash crowd and mid checkouts (its supervisor starts
another); PostgreSQL crash-restarted (`pg_ctl restart -m immediate`) mid checkouts; a long
lock on the stock (slow database); a rolling restart of every API process through nginx;
the primary lost and its synchronous standby promoted mid load.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import psutil

from service.processes import FESTIVAL, free_port, stop, wait_http
from tests.chaos import postgres
from tests.chaos.journal import Journal, reconcile
from tests.conftest import with_database
from tests.support.factories import merchant_body
from tests.support.processes import ROOT, festival_env
from tests.support.tokens import bearer

ZERO_KEYS = (
    "acknowledged_lost",
    "oversold",
    "double_redeemed",
    "phantom",
    "bare_5xx",
    "replay_mismatch",
    "restart_resets",
)


@dataclass
class Scale:
    residents: int
    quantity: int
    checkouts: int
    concurrency: int


FULL = Scale(residents=3000, quantity=2000, checkouts=1500, concurrency=128)
# A crowd long enough that the strike lands while it still runs, on a busy CI machine too.
SMOKE = Scale(residents=600, quantity=200, checkouts=150, concurrency=48)


def say(text: str) -> None:
    print(f"[chaos] {text}", file=sys.stderr, flush=True)


# --- the service under test ----------------------------------------------------------


@dataclass
class Service:
    base: str
    process: subprocess.Popen[bytes]
    log: Path

    def workers(self) -> list[psutil.Process]:
        return psutil.Process(self.process.pid).children()


@contextlib.asynccontextmanager
async def service(database_url: str, folder: Path, workers: int = 2) -> AsyncIterator[Service]:
    port = free_port()
    env = festival_env(database_url, folder, FESTIVAL_ACCESS_LOG="false")
    log = folder / f"serve-{port}.log"
    command = [*FESTIVAL, "serve", "--port", str(port), "--no-scheduler", "--workers", str(workers)]
    process = await asyncio.to_thread(_start, command, env, log)
    try:
        await asyncio.to_thread(wait_http, f"http://127.0.0.1:{port}/readyz", 60, process)
        yield Service(f"http://127.0.0.1:{port}", process, log)
    finally:
        await asyncio.to_thread(stop, process)


def _start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("w") as out:
        return subprocess.Popen(command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)


@contextlib.asynccontextmanager
async def fresh_database(server_url: str) -> AsyncIterator[str]:
    name = f"festival_chaos_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    try:
        yield with_database(server_url, name)
    finally:
        conn = await asyncpg.connect(server_url)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


async def setup(
    session: aiohttp.ClientSession, base: str, quantity: int, limit: int = 2
) -> tuple[int, int]:
    """A dining merchant and a dining batch open now: (merchant id, batch id)."""
    bureau = bearer("bureau", "chaos")
    async with session.post(
        f"{base}/api/v1/admin/merchants", json=merchant_body(category="dining"), headers=bureau
    ) as r:
        created = await r.json()
        assert r.status == 201, created
        mid = created["merchant"]["id"]
    now = datetime.now(UTC)
    body = {
        "category": "dining",
        "title": "餐饮券 满50减10",
        "face_value_fen": 1000,
        "min_spend_fen": 5000,
        "quantity": quantity,
        "per_resident_limit": limit,
        "claim_starts_at": (now - timedelta(minutes=1)).isoformat(),
        "claim_ends_at": (now + timedelta(hours=2)).isoformat(),
        "valid_days": 7,
    }
    async with session.post(f"{base}/api/v1/admin/batches", json=body, headers=bureau) as r:
        batch_id = (await r.json())["id"]
    return mid, batch_id


async def probe_batch(session: aiohttp.ClientSession, base: str) -> int:
    """A batch of its own for recovery probes, made before the fault: the load's batch may be
    sold out by the time the service is back, and a 409 is no sign of recovery."""
    _, batch_id = await setup(session, base, 100_000, limit=1)
    return batch_id


async def crowd(journal: Journal, base: str, batch_id: int, n: int, concurrency: int) -> None:
    """`n` residents tap once each, `concurrency` at a time."""
    gate = asyncio.Semaphore(concurrency)

    async def tap(i: int) -> None:
        async with gate:
            await journal.claim(base, batch_id, f"chaos-{uuid.uuid4().hex[:12]}-{i}")

    await asyncio.gather(*(tap(i) for i in range(n)))


async def checkouts(
    journal: Journal, base: str, mid: int, codes: list[str], concurrency: int
) -> None:
    gate = asyncio.Semaphore(concurrency)

    async def checkout(code: str) -> None:
        async with gate:
            await journal.redeem(base, mid, code)

    await asyncio.gather(*(checkout(c) for c in codes))


async def claimed_codes(
    session: aiohttp.ClientSession, base: str, batch_id: int, n: int
) -> list[str]:
    journal = Journal(session)
    await crowd(journal, base, batch_id, n, 64)
    return [e.json()["code"] for e in journal.entries if e.status == 201]


MEASURED_CHECKOUTS = 200


async def checkout_latency(
    session: aiohttp.ClientSession, base: str, mid: int, batch_id: int
) -> dict[str, float]:
    """p50/p99 of 200 checkouts, 32 at a time, on the healthy service (before the fault):
    what a commit costs on this database setup."""
    codes = await claimed_codes(session, base, batch_id, MEASURED_CHECKOUTS)
    journal = Journal(session)
    await checkouts(journal, base, mid, codes, 32)
    times = sorted(e.elapsed * 1000 for e in journal.entries if e.status == 201)
    return {
        "checkout_p50_ms": round(times[len(times) // 2], 1),
        "checkout_p99_ms": round(times[int(len(times) * 0.99) - 1], 1),
    }


async def invariants(db_url: str) -> dict[str, int]:
    conn = await asyncpg.connect(db_url)
    try:
        oversold = await conn.fetchval(
            "SELECT count(*) FROM batches b WHERE (SELECT count(*) FROM vouchers v"
            " WHERE v.batch_id = b.id) > b.quantity OR b.claimed > b.quantity"
        )
        twice = await conn.fetchval(
            "SELECT count(*) FROM (SELECT voucher_id FROM redemptions WHERE status = 'completed'"
            " GROUP BY voucher_id HAVING count(*) > 1) x"
        )
    finally:
        await conn.close()
    return {"oversold": oversold, "double_redeemed": twice}


async def settle(journal: Journal, db_url: str, base: str) -> dict[str, Any]:
    """Retry what got no answer, then count: the figures every scenario reports."""
    await journal.retry_unanswered(base)
    figures: dict[str, Any] = {
        "requests": len(journal.entries),
        "statuses": {str(k): v for k, v in sorted(journal.statuses().items(), key=str)},
        "bare_5xx": journal.bare_5xx(),
        "no_answer": sum(1 for e in journal.entries if e.status is None),
    }
    figures.update(await reconcile(journal, db_url, base))
    figures.update(await invariants(db_url))
    return figures


# --- the scenarios --------------------------------------------------------------------


async def kill_worker(server_url: str, folder: Path, scale: Scale, what: str) -> dict[str, Any]:
    """SIGKILL one of two API workers in the middle of a flash crowd (or of checkouts); the
    supervisor starts another. Clients retry what got no answer with the same key."""
    async with (
        fresh_database(server_url) as db_url,
        service(db_url, folder) as api,
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session,
    ):
        mid, batch_id = await setup(session, api.base, scale.quantity)
        journal = Journal(session)
        if what == "claims":
            load = crowd(journal, api.base, batch_id, scale.residents, scale.concurrency)
        else:
            codes = await claimed_codes(session, api.base, batch_id, scale.checkouts)
            load = checkouts(journal, api.base, mid, codes, scale.concurrency)
        victims: list[psutil.Process] = []
        struck: dict[str, int] = {}

        async def kill_when_busy() -> None:
            # Strike mid load a worker that holds client connections: the kernel may hand
            # every connection to one of the two, and which one is not ours to choose.
            await journal.answered(scale.concurrency)
            held, victim = 0, api.workers()[0]
            for _ in range(400):
                busiest = max(api.workers(), key=established)
                held = established(busiest)
                if held:
                    victim = busiest
                    break
                await asyncio.sleep(0.005)
            struck.update(victim_connections=held, answered_before=len(journal.entries))
            victims.append(victim)
            victim.send_signal(signal.SIGKILL)

        await asyncio.gather(load, kill_when_busy())
        victim = victims[0]
        for _ in range(200):  # the supervisor starts another worker
            if len(api.workers()) == 2 and victim not in api.workers():
                break
            await asyncio.sleep(0.05)
        figures = await settle(journal, db_url, api.base)
        figures["worker_restarted"] = int(victim not in api.workers())
        figures["victim_connections_at_kill"] = struck["victim_connections"]
        figures["answered_after_kill"] = len(journal.entries) - struck["answered_before"]
        return figures


def established(process: psutil.Process) -> int:
    try:
        return sum(c.status == psutil.CONN_ESTABLISHED for c in process.net_connections("tcp"))
    except psutil.Error:
        return 0


async def pg_restart(folder: Path, scale: Scale) -> dict[str, Any]:
    """PostgreSQL crash-restarted (immediate: no checkpoint) in the middle of checkouts."""
    servers = await asyncio.to_thread(postgres.single)
    try:
        node = servers.nodes[0]
        db_url = with_database(node.url, "festival")
        async with (
            service(db_url, folder) as api,
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session,
        ):
            mid, batch_id = await setup(session, api.base, scale.quantity + MEASURED_CHECKOUTS)
            healthy = await checkout_latency(session, api.base, mid, batch_id)
            codes = await claimed_codes(session, api.base, batch_id, scale.checkouts)
            probes = await probe_batch(session, api.base)
            journal = Journal(session)
            load = asyncio.create_task(
                checkouts(journal, api.base, mid, codes, scale.concurrency // 2)
            )
            await journal.answered(scale.checkouts // 4)
            await asyncio.to_thread(node.crash_restart)  # returns once it accepts connections
            accepting = time.monotonic()
            await load
            recovery = await first_201_after(journal, api.base, probes, accepting, session)
            figures = await settle(journal, db_url, api.base)
            figures["pg_restart_recovery_s"] = round(recovery, 2)
            figures.update({f"single_{k}": v for k, v in healthy.items()})
            return figures
    finally:
        await asyncio.to_thread(servers.stop)


async def first_201_after(
    journal: Journal,
    base: str,
    probe_batch_id: int,
    since: float,
    session: aiohttp.ClientSession,
) -> float:
    """Seconds from `since` (the database back) to the first 201 answered after it: the
    service's own recovery, whenever the request was sent (one sent before, waiting inside
    the service, counts when it is answered). A probe claim every 50 ms if no 201 came after
    `since` in the load, on a batch kept for them."""
    answered = [e.sent + e.elapsed for e in journal.entries if e.status == 201]
    after = [moment for moment in answered if moment >= since]
    if after:
        return min(after) - since
    probe = Journal(session)
    for _ in range(600):
        entry = await probe.claim(base, probe_batch_id, f"probe-{uuid.uuid4().hex[:10]}")
        if entry.status == 201:
            return entry.sent + entry.elapsed - since
        await asyncio.sleep(0.05)
    return float("inf")


async def slow_database(server_url: str, folder: Path, scale: Scale) -> dict[str, Any]:
    """The stock locked by another session for 6 s mid flash crowd: every claim ends, with
    201, 409 or 503 unavailable, well before a client would give up; /readyz says not ready."""
    async with (
        fresh_database(server_url) as db_url,
        service(db_url, folder) as api,
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session,
    ):
        _, batch_id = await setup(session, api.base, scale.quantity)
        journal = Journal(session)
        readiness: list[int] = []
        conn = await asyncpg.connect(db_url)
        try:
            async with conn.transaction():
                await conn.execute("LOCK TABLE batches IN ACCESS EXCLUSIVE MODE")
                load = asyncio.create_task(
                    crowd(journal, api.base, batch_id, scale.residents, scale.concurrency)
                )
                for _ in range(30):  # 6 s of lock, the probe asked every 0.2 s
                    async with session.get(f"{api.base}/readyz") as resp:
                        readiness.append(resp.status)
                    await asyncio.sleep(0.2)
        finally:
            await conn.close()
        await load
        figures = await settle(journal, db_url, api.base)
        figures["slow_db_max_s"] = round(max(e.elapsed for e in journal.entries), 2)
        figures["readyz_not_ready_during_lock"] = int(503 in readiness)
        return figures


async def rolling_restart(server_url: str, folder: Path, scale: Scale) -> dict[str, Any]:
    """Every API process restarted in turn through nginx under a continuous crowd."""
    sys.path.insert(0, str(ROOT / "deploy"))
    from topology import Topology, missing_tools

    if missing_tools():
        return {"skipped": f"needs {', '.join(missing_tools())}"}
    async with fresh_database(server_url) as db_url:
        topology = Topology(
            db_url,
            folder / "topology",
            apis=3,
            schedulers=0,
            env=festival_env(None, folder / "topology-data"),
        )
        await asyncio.to_thread(topology.__enter__)
        try:
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
                _, batch_id = await setup(session, topology.base, scale.quantity)
                journal = Journal(session)
                running = True

                async def keep_claiming() -> None:
                    while running:
                        await crowd(
                            journal, topology.base, batch_id, scale.concurrency, scale.concurrency
                        )

                load = asyncio.create_task(keep_claiming())
                await asyncio.sleep(0.3)
                for i in range(topology.apis):
                    await asyncio.to_thread(topology.restart_api, i)
                running = False
                await load
                resets = sum(1 for e in journal.entries if e.status is None or e.status >= 500)
                figures = await settle(journal, db_url, topology.base)
                figures["restart_resets"] = resets
                return figures
        finally:
            await asyncio.to_thread(topology.__exit__)


async def failover(folder: Path, scale: Scale) -> dict[str, Any]:
    """The primary lost (SIGKILL) mid load, its synchronous standby promoted; the service,
    given both hosts with target_session_attrs=read-write, follows it. Every acknowledged
    claim and checkout must be on the new primary."""
    servers = await asyncio.to_thread(postgres.primary_and_standby)
    try:
        primary, standby = servers.nodes
        hosts = f"127.0.0.1:{primary.port},127.0.0.1:{standby.port}"
        db_url = f"postgresql://postgres@{hosts}/festival?target_session_attrs=read-write"
        async with (
            service(db_url, folder) as api,
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session,
        ):
            mid, batch_id = await setup(session, api.base, scale.quantity + MEASURED_CHECKOUTS)
            healthy = await checkout_latency(session, api.base, mid, batch_id)
            codes = await claimed_codes(session, api.base, batch_id, scale.checkouts // 2)
            probes = await probe_batch(session, api.base)
            journal = Journal(session)
            load = asyncio.gather(
                crowd(journal, api.base, batch_id, scale.residents // 2, scale.concurrency // 2),
                checkouts(journal, api.base, mid, codes, scale.concurrency // 2),
            )
            await journal.answered(scale.concurrency)
            await asyncio.to_thread(primary.kill)
            lost_at = time.monotonic()
            await asyncio.to_thread(standby.promote)  # what the orchestrator does
            accepting = time.monotonic()  # pg_ctl promote returns once it is the primary
            promoted = accepting - lost_at
            await load
            # Measured from the database being back, as after a restart: how long the service
            # takes to follow it (the promotion's own time is failover_promote_s).
            recovery = await first_201_after(journal, api.base, probes, accepting, session)
            figures = await settle(journal, with_database(standby.url, "festival"), api.base)
            figures["failover_acknowledged_lost"] = figures["acknowledged_lost"]
            figures["failover_recovery_s"] = round(recovery, 2)
            figures["failover_promote_s"] = round(promoted, 2)
            figures.update({f"sync_standby_{k}": v for k, v in healthy.items()})
            return figures
    finally:
        await asyncio.to_thread(servers.stop)


# --- the run --------------------------------------------------------------------------


def scenarios(server_url: str, folder: Path, scale: Scale) -> dict[str, Callable[[], Any]]:
    return {
        "kill_worker_claims": lambda: kill_worker(server_url, folder, scale, "claims"),
        "kill_worker_checkouts": lambda: kill_worker(server_url, folder, scale, "checkouts"),
        "pg_restart": lambda: pg_restart(folder, scale),
        "slow_database": lambda: slow_database(server_url, folder, scale),
        "rolling_restart": lambda: rolling_restart(server_url, folder, scale),
        "failover": lambda: failover(folder, scale),
    }


SMOKE_SCENARIOS = ("kill_worker_claims", "pg_restart", "failover")


def summary(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    total: dict[str, Any] = {k: 0 for k in ZERO_KEYS}
    for figures in results.values():
        for key in (*ZERO_KEYS, "double_claimed"):
            total[key] = total.get(key, 0) + int(figures.get(key, 0))
    for key in ("failover_acknowledged_lost", "failover_recovery_s", "pg_restart_recovery_s"):
        total[key] = next((f[key] for f in results.values() if key in f), None)
    return total


def table(results: dict[str, dict[str, Any]], total: dict[str, Any]) -> str:
    lines = [f"{'scenario':<24}{'requests':>9}{'no answer':>10}  answers / figures"]
    for name, f in results.items():
        if "skipped" in f:
            lines.append(f"{name:<24}{'':>9}{'':>10}  skipped: {f['skipped']}")
            continue
        extra = {
            k: v
            for k, v in f.items()
            if k.endswith(("_s", "_ms", "_during_lock", "restarted", "_at_kill"))
        }
        lines.append(
            f"{name:<24}{f['requests']:>9}{f['no_answer']:>10}  {f['statuses']} {extra or ''}"
        )
    lines += ["", f"{'must be 0':<28}figure"]
    lines += [f"{k:<28}{total[k]}{'' if total[k] == 0 else '  FAILED'}" for k in ZERO_KEYS]
    lines += [
        f"{k:<28}{total[k]}"
        for k in (
            "double_claimed",
            "failover_acknowledged_lost",
            "failover_recovery_s",
            "pg_restart_recovery_s",
        )
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="small and quick: what make test runs")
    parser.add_argument("--only", default="", help="comma-separated scenario names")
    parser.add_argument("--output", default=str(ROOT / "chaos-results.json"))
    parser.add_argument("--database-url", default=os.environ.get("TEST_DATABASE_URL"))
    args = parser.parse_args()
    scale = SMOKE if args.smoke else FULL
    folder = Path(tempfile.mkdtemp(prefix="festival-chaos-"))
    server_url = args.database_url
    if not server_url:
        from service import embedded_postgres

        server_url = embedded_postgres.start(ROOT / ".test-pg", database="postgres")
    chosen = [s for s in args.only.split(",") if s] or list(
        SMOKE_SCENARIOS if args.smoke else scenarios(server_url, folder, scale)
    )
    runs = scenarios(server_url, folder, scale)
    results: dict[str, dict[str, Any]] = {}
    started = time.monotonic()
    for name in chosen:
        say(f"{name} …")
        t = time.monotonic()
        results[name] = asyncio.run(runs[name]())
        say(f"{name}: {time.monotonic() - t:.1f} s")
    total = summary(results)
    total["seconds"] = round(time.monotonic() - started, 1)
    Path(args.output).write_text(json.dumps({**total, "scenarios": results}, indent=2))
    print(table(results, total))
    print(f"\nwritten to {args.output} in {total['seconds']} s")
    return 1 if any(total[k] for k in ZERO_KEYS) else 0


if __name__ == "__main__":
    sys.exit(main())
