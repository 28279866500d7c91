"""`make bench`: the benchmark of PERF.md, in one run on this machine.

Starts its own embedded PostgreSQL, then measures, each with wrk against a real process:
the limit (a bare aiohttp app), the flash claim on the service as deployed, the naive
reference, redemption, the rollup, and the lottery draw (in a process of its own, its memory
and its PostgreSQL backend's sampled); checks correctness after each; prints a table and
writes bench-results.json.

    python -m tests.load.bench [--seconds 10] [--workers 2] [--quantity 20000] [--smoke]
                               [--lottery-entries 1000000] [--only issuing|sellout|...]
                               [--profile DIR]

--profile DIR records the API workers with py-spy during each service scenario's measured
run, with no code change: DIR/issuing.txt (…) holds the collapsed stacks (the input of any
flame graph tool; speedscope.app opens it), DIR/issuing-top.txt the functions with the most
samples, inclusive and their own.
py-spy samples from outside the process, but it takes CPU on these two cores: the figures
of a profiled run are not the benchmark's.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import platform
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import psutil

from service import embedded_postgres
from service.auth import issue_token
from service.db import Database
from service.domain import lottery
from service.domain.audit import Actor
from service.domain.claims import Claimed, claim_many
from service.domain.context import Context
from service.domain.merchants import create_merchant
from service.migrations import migrate_url
from service.processes import free_port, stop, wait_http, wait_port
from service.settings import Settings
from service.views.lottery import draw_record_text
from tests.conftest import with_database
from tests.load import rollup, scale
from tests.support.factories import merchant_body

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
TZ = ZoneInfo("Asia/Shanghai")
SECRET = "bench-secret-" + "b" * 52
# A scenario whose limit moved more than this between before and after is run again.
MAX_SPREAD = 0.25
SERVICE_SCENARIOS = ("issuing", "sellout", "redemption")


def wrk(url: str, seconds: float, connections: int, script: Path | None = None, *args: str) -> dict:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    if script is not None:
        command += ["-s", str(script)]
    command.append(url)
    if args:
        command += ["--", *args]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    statuses = {int(s): int(n) for s, n in re.findall(r"^STATUS (\d+) (\d+)$", out, re.MULTILINE)}
    latency = re.search(r"^LATENCY ([\d.]+) ([\d.]+)$", out, re.MULTILINE)
    p50, p99 = (float(latency.group(1)), float(latency.group(2))) if latency else (None, None)
    if p99 is None:
        p99_text = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
        if p99_text:
            value, unit = float(p99_text.group(1)), p99_text.group(2)
            p99 = value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rps": rps,
        "statuses": statuses,
        "p50_ms": p50,
        "p99_ms": p99,
        "socket_errors": errors.group(1) if errors else None,
        "raw": out,
    }


def profile_top(collapsed: str, rows: int = 40) -> str:
    """The functions with most samples in py-spy's collapsed stacks (one `frame;frame;… n`
    per line), inclusive and their own, as shares of all samples; `serve_forever`'s own share
    is the event loop waiting for work."""
    inclusive: dict[str, int] = {}
    own: dict[str, int] = {}
    total = 0
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        # A frame is "function (file:line)"; without the line, a function's samples add up.
        frames = [re.sub(r":\d+\)$", ")", f) for f in stack.split(";")[1:]]  # [0]: process
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + n
        if frames:
            own[frames[-1]] = own.get(frames[-1], 0) + n
    lines = [f"{total:,} samples"]
    for title, counts in (("inclusive", inclusive), ("own", own)):
        lines.append(f"\n{title}:")
        for frame, n in sorted(counts.items(), key=lambda kv: -kv[1])[:rows]:
            lines.append(f"{100 * n / max(total, 1):6.2f}%  {frame}")
    return "\n".join(lines) + "\n"


def token(role: str, sub: str, mid: int | None = None) -> str:
    settings = Settings(
        database_url=None, data_dir=Path("."), jwt_secret=SECRET, tz=TZ, access_token_ttl_s=3600
    )
    return issue_token(settings, role=role, sub=sub, merchant_id=mid)[0]


def lua_data(path: Path, **tables: Any) -> Path:
    with path.open("w") as f:
        for name, value in tables.items():
            if isinstance(value, list):
                f.write(f"{name} = {{\n")
                f.writelines(f'"{v}",\n' for v in value)
                f.write("}\n")
            else:
                f.write(f"{name} = {json.dumps(value)}\n")
    return path


# The lottery scenario's database: a batch whose registration and draw_at have passed, and N
# entries of N persons ('p:' || i), each of a resident of its own.
LOTTERY_BATCH = """
INSERT INTO batches (category, title, face_value_fen, min_spend_fen, quantity, per_resident_limit,
                     claim_starts_at, claim_ends_at, valid_days, mode, draw_at, seed,
                     seed_commitment)
VALUES ('auto', '汽车消费券 满10万减1万（摇号）', 1000000, 10000000, $1, 1,
        $2::timestamptz - interval '2 days', $2::timestamptz - interval '1 hour', 30, 'lottery',
        $2::timestamptz - interval '1 minute', $3, $4)
RETURNING id
"""
LOTTERY_FILL = """
WITH r AS (
    INSERT INTO residents (sub) SELECT 'lottery-' || i FROM generate_series(1, $2::int) i
    RETURNING id, sub
)
INSERT INTO lottery_entries (entry_id, batch_id, person, resident_id, entered_at)
SELECT md5(n::text), $1, 'p:' || n, id,
       $3::timestamptz - interval '2 days' + n * interval '100 milliseconds'
FROM (SELECT id, substr(sub, 9)::int AS n FROM r) x
"""
# After the draw, in one snapshot: what must hold for the batch's entries and vouchers.
LOTTERY_CHECK = """
SELECT count(*) AS entries,
       count(*) FILTER (WHERE e.rank IS NOT NULL) AS ranked,
       count(DISTINCT e.rank) AS distinct_ranks,
       coalesce(min(e.rank), 0) AS min_rank,
       coalesce(max(e.rank), 0) AS max_rank,
       count(*) FILTER (WHERE e.status = 'won') AS won,
       count(*) FILTER (WHERE e.status = 'won' AND e.rank > $2) AS won_out_of_place,
       count(*) FILTER (WHERE e.status = 'pending') AS pending,
       count(v.id) FILTER (WHERE v.batch_id = $1 AND v.person = e.person
                           AND v.resident_id = e.resident_id AND v.slot = 1) AS won_vouchers,
       (SELECT count(*) FROM vouchers WHERE batch_id = $1) AS vouchers,
       (SELECT count(*) FROM voucher_events WHERE batch_id = $1 AND kind = 'claimed') AS events,
       (SELECT claimed FROM batches WHERE id = $1) AS claimed,
       (SELECT drawn_quantity FROM batches WHERE id = $1) AS drawn_quantity
FROM lottery_entries e LEFT JOIN vouchers v ON v.id = e.voucher_id
WHERE e.batch_id = $1
"""


class MemorySampler(threading.Thread):
    """Peak memory of some processes, sampled every `every` seconds until stopped: RSS, and
    from /proc/PID/smaps the private (USS) and proportional (PSS) sets."""

    def __init__(self, pids: dict[str, int], every: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.processes = {name: psutil.Process(pid) for name, pid in pids.items()}
        self.every = every
        self.peaks = {name: {"rss": 0, "uss": 0, "pss": 0} for name in pids}
        self.samples = 0
        self.done = threading.Event()

    def sample(self) -> None:
        for name, process in self.processes.items():
            try:
                memory = process.memory_full_info()
            except psutil.Error:
                continue
            peak = self.peaks[name]
            for kind in peak:
                peak[kind] = max(peak[kind], getattr(memory, kind))
        self.samples += 1

    def run(self) -> None:
        self.sample()
        while not self.done.wait(self.every):
            self.sample()

    def stop(self) -> None:
        self.done.set()
        self.join()
        self.sample()


def high_water_mark(pid: int) -> int:
    """The kernel's peak RSS of a process so far (VmHWM), in bytes; 0 where unknown."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    found = re.search(r"^VmHWM:\s+(\d+) kB$", status, re.MULTILINE)
    return int(found.group(1)) * 1024 if found else 0


def mb(n: float) -> float:
    return round(n / 2**20, 1)


class Bench:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        self.server_url = args.database_url or embedded_postgres.start(
            workdir / "pg", database="postgres"
        )
        self.results: dict[str, Any] = {}
        self.processes: list[subprocess.Popen[bytes]] = []
        self.limit_port = 0
        self.spreads: dict[str, float] = {}
        self.service_pid = 0

    def say(self, text: str) -> None:
        print(f"[bench] {text}", file=sys.stderr, flush=True)

    async def database(self, name: str) -> str:
        conn = await asyncpg.connect(self.server_url)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        url = with_database(self.server_url, name)
        await migrate_url(url)
        return url

    def start(
        self, command: list[str], env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        log = (self.workdir / f"process-{len(self.processes)}.log").open("w")
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.processes.append(process)
        return process

    def stop(self, process: subprocess.Popen[bytes]) -> None:
        stop(process)

    # --- 1. the limit ------------------------------------------------------------------

    def limit(self) -> None:
        """The bare app stays up for the whole run: each scenario measures the limit right
        before and right after itself (PERF.md, "How the ratios are kept honest")."""
        self.limit_port = free_port()
        self.start([sys.executable, "-m", "tests.load.bare_app", str(self.limit_port)])
        wait_http(f"http://127.0.0.1:{self.limit_port}/")
        self.say("limit: bare aiohttp, 256 and 64 connections")
        self.results["limit_rps"] = self.limit_now(256)
        self.results["limit_64_rps"] = self.limit_now(64)

    def limit_now(self, connections: int) -> float:
        url = f"http://127.0.0.1:{self.limit_port}/"
        return float(wrk(url, self.args.seconds, connections)["rps"])

    async def bracketed(
        self, name: str, connections: int, once: Callable[[int], Awaitable[dict[str, Any]]]
    ) -> tuple[dict[str, Any], float]:
        """The scenario between two limit runs; its ratio uses their mean. A spread above 25%
        is noisy: run again, up to three times (each attempt gets its own data)."""
        for attempt in range(3):
            before = self.limit_now(connections)
            figures = await once(attempt)
            # The smoke run proves the harness, not the machine: one limit run is enough.
            after = before if self.args.smoke else self.limit_now(connections)
            mean = (before + after) / 2
            spread = abs(before - after) / mean
            self.results[f"{name}_limit"] = {
                "before": round(before),
                "after": round(after),
                "spread": round(spread, 3),
                "attempts": attempt + 1,
                "noisy": spread > MAX_SPREAD,
            }
            self.spreads[name] = spread
            if spread <= MAX_SPREAD:
                break
            self.say(f"{name}: the limit moved {before:,.0f} → {after:,.0f} ({spread:.0%}): again")
        return figures, mean

    # --- 2. flash claim on the service ---------------------------------------------------

    async def service(self) -> tuple[str, int, subprocess.Popen[bytes]]:
        url = await self.database("bench_service")
        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "FESTIVAL_JWT_SECRET": SECRET,
            "FESTIVAL_DATA_DIR": str(self.workdir / "var"),
            # As deploy/festival.env.example: nginx keeps the access log.
            "FESTIVAL_ACCESS_LOG": "false",
        }
        process = self.start(
            [
                sys.executable,
                "-m",
                "service.cli",
                "serve",
                "--port",
                str(port),
                "--no-scheduler",
                "--workers",
                str(self.args.workers),
            ],
            env,
        )
        wait_http(f"http://127.0.0.1:{port}/readyz")
        self.service_pid = process.pid
        return url, port, process

    def drive(self, name: str, port: int, connections: int, script: str, data: Path) -> dict:
        """wrk against the service; with --profile, py-spy records its workers meanwhile."""
        profiler = None
        if self.args.profile:
            out = Path(self.args.profile) / f"{name}.txt"
            out.parent.mkdir(parents=True, exist_ok=True)
            profiler = subprocess.Popen(
                [str(Path(sys.executable).parent / "py-spy"), "record", "--subprocesses",
                 "--pid", str(self.service_pid), "--duration", str(int(self.args.seconds)),
                 "--rate", "250", "--format", "raw", "--output", str(out)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
        try:
            return wrk(
                f"http://127.0.0.1:{port}", self.args.seconds, connections, HERE / script, str(data)
            )
        finally:
            if profiler is not None:
                profiler.wait(timeout=60)
                top = out.with_name(f"{name}-top.txt")
                top.write_text(profile_top(out.read_text()))
                self.say(f"{name}: profile in {out}, its top functions in {top}")

    def create_batch(self, port: int, quantity: int) -> int:
        now = datetime.now(UTC)
        body = json.dumps(
            {
                "category": "dining",
                "title": "餐饮券 满50减10",
                "face_value_fen": 1000,
                "min_spend_fen": 5000,
                "quantity": quantity,
                "per_resident_limit": 1,
                "claim_starts_at": (now - timedelta(minutes=1)).isoformat(),
                "claim_ends_at": (now + timedelta(hours=2)).isoformat(),
                "valid_days": 7,
            }
        ).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v1/admin/batches",
            data=body,
            method="POST",
            headers={
                "Authorization": f"Bearer {token('bureau', 'bench')}",
                "Content-Type": "application/json",
            },
        )
        with urllib.request.urlopen(request) as response:  # noqa: S310
            return int(json.loads(response.read())["id"])

    async def issuing(self, url: str, port: int, process: subprocess.Popen[bytes]) -> None:
        """The headline: a batch larger than the run can issue and a new resident behind every
        request, so every answer is a voucher really issued (resident row, voucher, ledger
        event, stock)."""
        residents = self.args.issue_residents
        self.say(
            f"flash claim, issuing: {residents:,} new residents, 256 connections, "
            f"{self.args.workers} worker(s)"
        )

        async def once(attempt: int) -> dict[str, Any]:
            batch_id = self.create_batch(port, 10_000_000)
            data = lua_data(
                self.workdir / f"issue-data-{attempt}.lua",
                batch_id=batch_id,
                tokens=[token("resident", f"issue-{attempt}-{i}") for i in range(residents)],
            )
            run = self.drive("issuing", port, 256, "claim.lua", data)
            conn = await asyncpg.connect(url)
            try:
                issued = await conn.fetchval(
                    "SELECT count(*) FROM vouchers WHERE batch_id = $1", batch_id
                )
            finally:
                await conn.close()
            return {**run, "issued": issued}

        run, limit = await self.bracketed("issuing", 256, once)
        statuses = run["statuses"]
        issue_rps = run["issued"] / self.args.seconds
        self.results.update(
            {
                "claim_issue_rps": round(issue_rps, 1),
                "claim_issue_ratio": round(issue_rps / limit, 3),
                "claim_issue_p50_ms": run["p50_ms"],
                "claim_issue_p99_ms": run["p99_ms"],
                "claim_issue_statuses": statuses,
                # Every request a new resident: anything but 201 means tokens ran out.
                "claim_issue_not_201": sum(n for s, n in statuses.items() if s != 201),
                "claim_5xx": sum(n for s, n in statuses.items() if s >= 500),
            }
        )
        rss = [
            p.memory_info().rss
            for p in [psutil.Process(process.pid), *psutil.Process(process.pid).children()]
        ]
        self.results["api_rss_mb"] = round(max(rss) / 2**20, 1)

    async def sellout(self, url: str, port: int) -> None:
        """Q vouchers for more residents than that: how long until the last one is issued, and
        how fast the crowd is told "sold out" afterwards."""
        quantity, residents = self.args.quantity, self.args.residents
        self.say(f"flash claim, sell-out: {quantity:,} vouchers, {residents:,} residents")

        async def once(attempt: int) -> dict[str, Any]:
            batch_id = self.create_batch(port, quantity)
            data = lua_data(
                self.workdir / f"sellout-data-{attempt}.lua",
                batch_id=batch_id,
                tokens=[token("resident", f"sellout-{attempt}-{i}") for i in range(residents)],
            )
            started = datetime.now(UTC)
            run = self.drive("sellout", port, 256, "claim.lua", data)
            conn = await asyncpg.connect(url)
            try:
                issued, last = await conn.fetchrow(
                    "SELECT count(*), max(claimed_at) FROM vouchers WHERE batch_id = $1",
                    batch_id,
                )
                over_limit = await conn.fetchval(
                    "SELECT count(*) FROM (SELECT resident_id FROM vouchers WHERE batch_id = $1"
                    " GROUP BY resident_id HAVING count(*) > 1) x",
                    batch_id,
                )
            finally:
                await conn.close()
            sellout_s = (last - started).total_seconds() if last is not None else None
            return {**run, "issued": issued, "over_limit": over_limit, "sellout_s": sellout_s}

        run, limit = await self.bracketed("sellout", 256, once)
        statuses = run["statuses"]
        issued, sellout_s = run["issued"], run["sellout_s"]
        sold_out_for = self.args.seconds - (sellout_s or self.args.seconds)
        soldout_rps = statuses.get(409, 0) / sold_out_for if sold_out_for > 0.5 else None
        self.results.update(
            {
                "sellout_s": None if sellout_s is None else round(sellout_s, 2),
                "soldout_rps": None if soldout_rps is None else round(soldout_rps, 1),
                "soldout_ratio": None if soldout_rps is None else round(soldout_rps / limit, 3),
                "sellout_statuses": statuses,
                "sellout_p99_ms": run["p99_ms"],
                "vouchers_issued": issued,
                "quantity": quantity,
                "oversold": max(0, issued - quantity),
                "sold_out_reached": issued == quantity,
                "over_limit_residents": run["over_limit"],
                "claim_5xx": self.results.get("claim_5xx", 0)
                + sum(n for s, n in statuses.items() if s >= 500),
            }
        )

    # --- 3. redemption -------------------------------------------------------------------

    async def redemption(self, url: str, port: int) -> None:
        db = await Database.connect(url, min_size=2, max_size=4)
        try:
            merchants = []
            for _ in range(64):
                row, _ = await create_merchant(
                    Context(db=db, actor=Actor("bench"), now=datetime.now(UTC), tz=TZ),
                    data=merchant_body(category="dining"),
                )
                merchants.append(row["id"])
            batch_id = self.create_batch(port, self.args.vouchers)
            codes: list[str] = []
            now = datetime.now(UTC)
            for start in range(0, self.args.vouchers, 1000):
                subs = [f"holder-{i}" for i in range(start, min(start + 1000, self.args.vouchers))]
                codes += [
                    o.code
                    for o in await claim_many(db, batch_id, requests=subs, now=now)
                    if isinstance(o, Claimed)
                ]
        finally:
            await db.close()
        data = lua_data(
            self.workdir / "redeem-data.lua",
            codes=codes,
            merchants=[token("merchant", f"merchant:{m}", m) for m in merchants],
        )
        self.say(f"redemption: {len(codes)} claimed vouchers, 64 connections, retries mixed in")

        async def once(attempt: int) -> dict[str, Any]:
            # A noisy first attempt used some vouchers; the script skips codes already redeemed
            # by their answer (409), which the reconciliation below counts as such.
            return self.drive("redemption", port, 64, "redeem.lua", data)

        run, limit = await self.bracketed("redemption", 64, once)
        conn = await asyncpg.connect(url)
        try:
            twice = await conn.fetchval(
                "SELECT count(*) FROM (SELECT voucher_id FROM redemptions WHERE status = 'completed'"
                " GROUP BY voucher_id HAVING count(*) > 1) x"
            )
            # One statement, one snapshot: requests still in flight when wrk stopped may be
            # committing while we count.
            done, discounts, mismatched, redeemed = await conn.fetchrow(
                "SELECT count(*), coalesce(sum(discount_fen), 0)::bigint,"
                " count(*) FILTER (WHERE payable_fen <> order_amount_fen - discount_fen),"
                " (SELECT count(*) FROM vouchers WHERE status = 'redeemed')"
                " FROM redemptions WHERE status = 'completed'"
            )
        finally:
            await conn.close()
        statuses = run["statuses"]
        self.results.update(
            {
                "redeem_rps": run["rps"],
                "redeem_ratio": round(run["rps"] / limit, 3),
                "redeem_p50_ms": run["p50_ms"],
                "redeem_p99_ms": run["p99_ms"],
                "redeem_statuses": statuses,
                "redeem_5xx": sum(n for s, n in statuses.items() if s >= 500),
                "double_redeemed": twice,
                "redemptions_completed": done,
                "vouchers_redeemed": redeemed,
                "discounts_fen": discounts,
                "payable_mismatched": mismatched,
                # Sums reconcile: every completed redemption a redeemed voucher, 10.00 off each.
                "redeem_unreconciled": int(done != redeemed)
                + int(discounts != done * 1000)
                + mismatched,
            }
        )

    # --- 5. the naive reference ----------------------------------------------------------

    async def naive(self) -> None:
        url = await self.database("bench_naive")
        conn = await asyncpg.connect(url)
        try:
            from tests.load.naive_app import SCHEMA

            await conn.execute(SCHEMA)
            # Issuing, as the service's headline: more stock than the run can issue.
            await conn.execute("INSERT INTO naive_batches VALUES (1, 10000000, 0)")
        finally:
            await conn.close()
        port = free_port()
        app = self.start([sys.executable, "-m", "tests.load.naive_app", str(port), url, SECRET])
        wait_port(port)
        self.say("naive reference: lock the batch row, check, insert, one transaction per claim")

        async def once(attempt: int) -> dict[str, Any]:
            data = lua_data(
                self.workdir / f"naive-data-{attempt}.lua",
                batch_id=1,
                tokens=[
                    token("resident", f"naive-{attempt}-{i}")
                    for i in range(self.args.issue_residents)
                ],
            )
            conn = await asyncpg.connect(url)
            try:
                before = await conn.fetchval("SELECT count(*) FROM naive_vouchers")
                run = wrk(
                    f"http://127.0.0.1:{port}",
                    self.args.seconds,
                    256,
                    HERE / "claim.lua",
                    str(data),
                )
                issued = await conn.fetchval("SELECT count(*) FROM naive_vouchers") - before
            finally:
                await conn.close()
            return {**run, "issued": issued}

        run, limit = await self.bracketed("naive", 256, once)
        self.stop(app)
        self.results.update(
            {
                "naive_issue_rps": round(run["issued"] / self.args.seconds, 1),
                "naive_issue_ratio": round(run["issued"] / self.args.seconds / limit, 3),
                "naive_claim_p99_ms": run["p99_ms"],
            }
        )

    # --- 4. rollup -----------------------------------------------------------------------

    async def rollup(self) -> None:
        url = await self.database("bench_rollup")
        self.say(f"rollup: {self.args.rollup_days} days × {self.args.rollup_per_day} redemptions")
        figures = await rollup.main(url, self.args.rollup_days, self.args.rollup_per_day)
        self.results.update(
            {
                "rollup_day_s": figures["rollup_one_day_s"],
                "rollup_raw_s": figures["raw_group_by_s"],
                "rollup_ratio": figures["rollup_over_raw"],
                "rollup_backfill_s": figures["backfill_all_days_s"],
                "rollup_per_day": self.args.rollup_per_day,
                "risk_scan_s": figures["risk_scan_s"],
                "risk_scan_flags": figures["risk_scan_flags"],
            }
        )

    # --- 7. the cost curve ---------------------------------------------------------------

    async def scale_curve(self) -> None:
        """Festivals of ×1, ×10, ×30 the demo's size (tests/load/scale.py): fill, rollup per
        redemption, and the hot reads' latency under 64 connections."""
        curve = []
        for k in self.args.scales:
            url = await self.database(f"bench_scale_{k}")
            self.say(f"scale ×{k}: filling by SQL")
            figures = await scale.fill(url, k, self.say, self.args.scale_days)
            port = free_port()
            env = {
                **os.environ,
                "DATABASE_URL": url,
                "FESTIVAL_JWT_SECRET": SECRET,
                "FESTIVAL_DATA_DIR": str(self.workdir / f"var-{k}"),
                "FESTIVAL_ACCESS_LOG": "false",
            }
            command = [sys.executable, "-m", "service.cli", "serve", "--port", str(port)]
            command += ["--no-scheduler", "--workers", str(self.args.workers)]
            process = self.start(command, env)
            try:
                wait_http(f"http://127.0.0.1:{port}/readyz")
                self.service_pid = process.pid
                residents = figures["residents"]
                wallets = lua_data(
                    self.workdir / f"wallet-{k}.lua",
                    target="/api/v1/me/vouchers",
                    tokens=[
                        token("resident", f"scale-{1 + (i * 7919) % residents}")
                        for i in range(5000)
                    ],
                )
                summary = lua_data(
                    self.workdir / f"summary-{k}.lua",
                    target="/api/v1/stats/summary",
                    tokens=[token("bureau", "bench")],
                )
                self.say(f"scale ×{k}: wallet and summary reads, 64 connections")
                wallet = self.drive(f"wallet-x{k}", port, 64, "read.lua", wallets)
                stats = self.drive(f"summary-x{k}", port, 64, "read.lua", summary)
            finally:
                self.stop(process)
            curve.append(
                {
                    **figures,
                    "wallet_rps": wallet["rps"],
                    "wallet_p50_ms": wallet["p50_ms"],
                    "wallet_p99_ms": wallet["p99_ms"],
                    "summary_rps": stats["rps"],
                    "summary_p50_ms": stats["p50_ms"],
                    "summary_p99_ms": stats["p99_ms"],
                    "read_5xx": sum(
                        n for run in (wallet, stats) for s, n in run["statuses"].items() if s >= 500
                    ),
                }
            )
        self.results["scale"] = curve
        first, last = curve[0], curve[-1]
        self.results["scale_rollup_growth"] = round(
            last["rollup_us_per_redemption"] / first["rollup_us_per_redemption"], 2
        )
        self.results["scale_wallet_p99_ms"] = max(c["wallet_p99_ms"] for c in curve)
        self.results["scale_summary_p99_ms"] = max(c["summary_p99_ms"] for c in curve)
        self.results["ledger_verify_s"] = last["ledger_verify_s"]
        self.results["read_5xx"] = sum(c["read_5xx"] for c in curve)

    # --- 6. lottery draw -----------------------------------------------------------------

    async def lottery_draw(self) -> None:
        entries = self.args.lottery_entries
        quantity = entries // 10
        url = await self.database("bench_lottery")
        self.say(f"lottery: filling {entries:,} entries for {quantity:,} vouchers by SQL")
        seed = secrets.token_bytes(lottery.SEED_BYTES)
        conn = await asyncpg.connect(url)
        try:
            started = time.perf_counter()
            async with conn.transaction():
                batch_id = await conn.fetchval(
                    LOTTERY_BATCH,
                    quantity,
                    datetime.now(UTC),
                    seed,
                    hashlib.sha256(seed).hexdigest(),
                )
                await conn.execute(LOTTERY_FILL, batch_id, entries, datetime.now(UTC))
            await conn.execute("VACUUM ANALYZE lottery_entries")
            await conn.execute("ANALYZE residents")
            fill_s = time.perf_counter() - started
            temp_bytes = (
                "SELECT temp_bytes FROM pg_stat_database WHERE datname = current_database()"
            )
            temp_before = await conn.fetchval(temp_bytes)
            self.say(f"lottery: filled in {fill_s:.1f} s; drawing in a process of its own")
            draw = self.draw_in_child(url, batch_id)
            self.say(
                f"lottery: drawn in {draw['draw_s']:.1f} s, client peak "
                f"{draw['client_rss_mb']} MB, backend peak {draw['backend_rss_mb']} MB RSS "
                f"({draw['backend_uss_mb']} MB private); checking and verifying the record"
            )
            # The statistics collector reports a backend's temp files when it is done.
            await asyncio.sleep(1)
            await conn.execute("SELECT pg_stat_clear_snapshot()")
            temp_after = await conn.fetchval(temp_bytes)
            check = await conn.fetchrow(LOTTERY_CHECK, batch_id, quantity)
        finally:
            await conn.close()
        db = await Database.connect(url, min_size=1, max_size=1)
        try:
            started = time.perf_counter()
            text = draw_record_text(await lottery.record(db, batch_id), TZ)
            record_s = time.perf_counter() - started
        finally:
            await db.close()
        public = json.loads(text)
        del text
        started = time.perf_counter()
        problems = lottery.verify_record(public)
        verify_s = time.perf_counter() - started
        failures = [
            *problems,
            *(
                f"{what}: {got} != {want}"
                for what, got, want in (
                    ("the draw's entries", draw["entries"], entries),
                    ("the draw's winners", draw["winners"], quantity),
                    ("entries", check["entries"], entries),
                    ("ranked entries", check["ranked"], entries),
                    ("distinct ranks", check["distinct_ranks"], entries),
                    ("first rank", check["min_rank"], 1 if entries else 0),
                    ("last rank", check["max_rank"], entries),
                    ("entries still pending", check["pending"], 0),
                    ("entries won", check["won"], quantity),
                    ("winners ranked after the stock", check["won_out_of_place"], 0),
                    ("winners holding their own voucher", check["won_vouchers"], quantity),
                    ("vouchers issued", check["vouchers"], quantity),
                    ("ledger events", check["events"], quantity),
                    ("batch claimed", check["claimed"], quantity),
                    ("batch drawn_quantity", check["drawn_quantity"], quantity),
                    ("public record entries", len(public.get("entry_ids", [])), entries),
                    ("public record winners", len(public.get("winner_entry_ids", [])), quantity),
                )
                if got != want
            ),
        ]
        for failure in failures:
            self.say(f"lottery: FAILED {failure}")
        self.say(f"lottery: record read in {record_s:.1f} s, verified in {verify_s:.1f} s")
        self.results.update(
            {
                "lottery_entries": entries,
                "lottery_winners": check["won"],
                "lottery_fill_s": round(fill_s, 2),
                "lottery_draw_s": draw["draw_s"],
                "lottery_draw_rss_mb": max(draw["client_rss_mb"], draw["backend_rss_mb"]),
                "lottery_draw_client_rss_mb": draw["client_rss_mb"],
                "lottery_draw_backend_rss_mb": draw["backend_rss_mb"],
                "lottery_draw_backend_uss_mb": draw["backend_uss_mb"],
                "lottery_draw_backend_pss_mb": draw["backend_pss_mb"],
                "lottery_draw_temp_mb": mb(max(0, (temp_after or 0) - (temp_before or 0))),
                "lottery_draw_samples": draw["samples"],
                "lottery_record_s": round(record_s, 2),
                "lottery_verify_s": round(verify_s, 2),
                "lottery_unverified": len(failures),
            }
        )

    def draw_in_child(self, url: str, batch_id: int) -> dict[str, Any]:
        """`lottery.draw` in a process of its own (tests/load/lottery_draw.py), with the peak
        memory of that process and of the PostgreSQL backend serving it."""
        log = (self.workdir / "lottery-draw.log").open("w")
        child = subprocess.Popen(
            [sys.executable, "-m", "tests.load.lottery_draw", url, str(batch_id)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
        )
        self.processes.append(child)
        assert child.stdin is not None and child.stdout is not None

        def line() -> str:
            assert child.stdout is not None
            text = child.stdout.readline().decode()
            if not text:
                child.wait(10)
                raise RuntimeError(
                    f"the draw process ended ({child.returncode}): "
                    + (self.workdir / "lottery-draw.log").read_text()[-2000:]
                )
            return text

        backend = int(line().split()[1])
        sampler = MemorySampler({"client": child.pid, "backend": backend})
        sampler.start()
        child.stdin.write(b"go\n")
        child.stdin.flush()
        try:
            result: dict[str, Any] = json.loads(line())
        finally:
            sampler.stop()
        backend_hwm = high_water_mark(backend)
        child.stdin.write(b"exit\n")
        child.stdin.close()
        child.wait(30)
        client, server = sampler.peaks["client"], sampler.peaks["backend"]
        return {
            **result,
            # The kernel's high-water marks where known (they miss no spike), else the samples.
            "client_rss_mb": max(result["client_maxrss_mb"], mb(client["rss"])),
            "backend_rss_mb": max(mb(backend_hwm), mb(server["rss"])),
            "backend_uss_mb": mb(server["uss"]),
            "backend_pss_mb": mb(server["pss"]),
            "samples": sampler.samples,
        }

    async def machine(self) -> None:
        conn = await asyncpg.connect(self.server_url)
        try:
            version = await conn.fetchval("SHOW server_version")
            fsync = await conn.fetchval("SHOW fsync")
        finally:
            await conn.close()
        self.results["machine"] = {
            "cores": os.cpu_count(),
            "postgresql": version,
            "fsync": fsync,
            "python": platform.python_version(),
            "workers": self.args.workers,
            "seconds_per_scenario": self.args.seconds,
        }

    async def run(self) -> dict[str, Any]:
        await self.machine()
        if self.args.only == "lottery":
            await self.lottery_draw()
            return self.results
        if self.args.only == "scale":
            await self.scale_curve()
            return self.results
        if self.args.only in SERVICE_SCENARIOS:  # for A/B runs of one change
            self.limit()
            url, port, process = await self.service()
            try:
                if self.args.only == "issuing":
                    await self.issuing(url, port, process)
                elif self.args.only == "sellout":
                    await self.sellout(url, port)
                else:
                    await self.redemption(url, port)
            finally:
                self.stop(process)
            return self.results
        self.limit()
        url, port, process = await self.service()
        try:
            await self.issuing(url, port, process)
            await self.sellout(url, port)
            await self.redemption(url, port)
        finally:
            self.stop(process)
        await self.naive()
        await self.rollup()
        await self.lottery_draw()
        await self.scale_curve()
        r = self.results
        r["claim_vs_naive"] = round(r["claim_issue_rps"] / max(r["naive_issue_rps"], 0.1), 2)
        r["limit_spread"] = round(max(self.spreads.values(), default=0.0), 3)
        return r

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                self.stop(process)


# Counts that must be zero after every run: the benchmark fails otherwise.
CORRECTNESS = (
    "oversold",
    "over_limit_residents",
    "double_redeemed",
    "redeem_unreconciled",
    "claim_5xx",
    "redeem_5xx",
    "lottery_unverified",
    "read_5xx",
)
# PERF.md's goals: what the table calls it | key in the results | how it must compare.
GOALS = [
    (label.strip(), key.strip(), op, float(target))
    for label, key, op, target in (
        line.split("|")
        for line in """
        issuing ÷ limit                |claim_issue_ratio   |>=|0.45
        issuing p99 (ms)               |claim_issue_p99_ms  |<=|100
        issuing ÷ naive issuing        |claim_vs_naive      |>=|6
        sold-out answers ÷ limit       |soldout_ratio       |>=|0.8
        redemption ÷ limit             |redeem_ratio        |>=|0.30
        redemption p99 (ms)            |redeem_p99_ms       |<=|50
        one-day rollup ÷ raw SQL       |rollup_ratio        |<=|1.3
        API process RSS (MB)           |api_rss_mb          |<=|200
        lottery draw (s)               |lottery_draw_s      |<=|30
        lottery draw RSS (MB)          |lottery_draw_rss_mb |<=|500
        wallet p99, any scale (ms)     |scale_wallet_p99_ms |<=|20
        summary p99, any scale (ms)    |scale_summary_p99_ms|<=|50
        rollup/redemption ×30 ÷ ×1     |scale_rollup_growth |<=|1.3
        ledger verify, largest (s)     |ledger_verify_s     |<=|10
        oversold                       |oversold            |==|0
        residents over their limit     |over_limit_residents|==|0
        vouchers redeemed twice        |double_redeemed     |==|0
        redemption sums not reconciled |redeem_unreconciled |==|0
        5xx answers                    |claim_5xx           |==|0
        lottery draws not verified     |lottery_unverified  |==|0
        """.strip().splitlines()
    )
]


def _num(value: float | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def _limit(r: dict[str, Any], name: str) -> str:
    limit = r[f"{name}_limit"]
    noisy = "  NOISY" if limit["noisy"] else ""
    return (
        f"(limit {limit['before']:,} → {limit['after']:,}, spread {limit['spread']:.0%}"
        f"{', ' + str(limit['attempts']) + ' runs' if limit['attempts'] > 1 else ''}){noisy}"
    )


def table(r: dict[str, Any]) -> str:
    """The figures of the scenarios that ran (all, or those --only picked), then the goals."""
    parts = {
        "limit_rps": lambda: [
            f"limit (bare aiohttp)   {r['limit_rps']:>10,.0f} req/s (256 conn), "
            f"{r['limit_64_rps']:,.0f} (64 conn)"
        ],
        "claim_issue_rps": lambda: [
            f"issuing                {r['claim_issue_rps']:>10,.0f} vouchers/s  p50"
            f" {r['claim_issue_p50_ms']:.1f} ms  p99 {r['claim_issue_p99_ms']:.1f} ms"
            f"   {_limit(r, 'issuing')}"
        ],
        "sellout_s": lambda: [
            f"sell-out               {_num(r['sellout_s'], '.2f'):>10} s to the last of"
            f" {r['quantity']:,}; then {_num(r['soldout_rps'], ',.0f')} sold-out answers/s"
            f"   {_limit(r, 'sellout')}"
        ],
        "naive_issue_rps": lambda: [
            f"naive reference        {r['naive_issue_rps']:>10,.0f} vouchers/s  p99"
            f" {r['naive_claim_p99_ms']:.1f} ms   {_limit(r, 'naive')}"
        ],
        "redeem_rps": lambda: [
            f"redemption             {r['redeem_rps']:>10,.0f} req/s  p50 {r['redeem_p50_ms']:.1f} ms"
            f"  p99 {r['redeem_p99_ms']:.1f} ms   {_limit(r, 'redemption')}"
        ],
        "rollup_day_s": lambda: [
            f"rollup, one day        {r['rollup_day_s']:>10.3f} s   raw GROUP BY {r['rollup_raw_s']:.3f} s"
            f"   backfill {r['rollup_backfill_s']:.2f} s",
            f"risk scan, one day     {r['risk_scan_s']:>10.3f} s   {r['rollup_per_day']:,}"
            f" redemptions, {r['risk_scan_flags']:,} flags raised",
        ],
        "lottery_draw_s": lambda: [
            f"lottery draw           {r['lottery_draw_s']:>10.2f} s   {r['lottery_entries']:,} entries,"
            f" {r['lottery_winners']:,} winners; filled in {r['lottery_fill_s']:.1f} s,"
            f" record read {r['lottery_record_s']:.1f} s, verified {r['lottery_verify_s']:.1f} s",
            f"lottery draw memory    {r['lottery_draw_rss_mb']:>10.1f} MB  peak RSS: draw process"
            f" {r['lottery_draw_client_rss_mb']:.1f}, PostgreSQL backend"
            f" {r['lottery_draw_backend_rss_mb']:.1f} (private {r['lottery_draw_backend_uss_mb']:.1f},"
            f" PSS {r['lottery_draw_backend_pss_mb']:.1f}); temp files {r['lottery_draw_temp_mb']:.1f}",
        ],
    }
    parts["scale"] = lambda: [
        "cost curve             scale   vouchers  redemptions  fill s  rollup µs/redemption"
        "  wallet p50/p99 ms  summary p50/p99 ms  ledger verify s",
        *(
            f"                       ×{c['scale']:<5}{c['vouchers']:>9,}{c['redemptions']:>13,}"
            f"{c['fill_s']:>8.1f}{c['rollup_us_per_redemption']:>22.1f}"
            f"{c['wallet_p50_ms']:>10.1f} / {c['wallet_p99_ms']:<6.1f}"
            f"{c['summary_p50_ms']:>10.1f} / {c['summary_p99_ms']:<8.1f}"
            f"{c['ledger_verify_s']:>10.2f}"
            for c in r["scale"]
        ),
    ]
    lines = [line for key, part in parts.items() if key in r for line in part()]
    lines += ["", f"{'goal':<34}{'figure':>10}  {'target':>8}"]
    ops = {">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b, "==": lambda a, b: a == b}
    for label, key, op, target in GOALS:
        if key not in r:  # a scenario left out by --only
            continue
        value = r[key]
        if value is None:  # e.g. the crowd never sold the batch out within the run
            lines.append(f"{label:<34}{'—':>10}  {op} {target:<6} not measured")
            continue
        mark = "ok" if ops[op](value, target) else "MISSED"
        lines.append(f"{label:<34}{value:>10}  {op} {target:<6} {mark}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--quantity", type=int, default=20_000)
    parser.add_argument("--residents", type=int, default=60_000)
    parser.add_argument("--vouchers", type=int, default=60_000)
    parser.add_argument("--rollup-days", type=int, default=3)
    parser.add_argument("--rollup-per-day", type=int, default=100_000)
    parser.add_argument("--lottery-entries", type=int, default=1_000_000)
    parser.add_argument(
        "--scales", type=int, nargs="+", default=[1, 10, 30], help="festival sizes × the demo's"
    )
    parser.add_argument("--scale-days", type=int, default=31, help="festival days filled")
    parser.add_argument(
        "--issue-residents",
        type=int,
        default=150_000,
        help="tokens of new residents for the issuing runs (more than a run can use)",
    )
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server to use instead of the embedded one (its postgres database)",
    )
    parser.add_argument("--output", default=str(ROOT / "bench-results.json"))
    parser.add_argument("--smoke", action="store_true", help="seconds and small counts")
    parser.add_argument(
        "--only", choices=["lottery", "scale", *SERVICE_SCENARIOS], help="just this scenario"
    )
    parser.add_argument("--profile", metavar="DIR", help="py-spy flame graphs of the workers")
    args = parser.parse_args()
    if args.smoke:
        args.seconds, args.quantity, args.residents, args.vouchers = 1, 200, 2000, 2000
        args.issue_residents = 30_000  # more than a fast machine issues in the 1 s run
        args.rollup_days, args.rollup_per_day = 1, 2000
        args.lottery_entries = 5_000
        args.scales, args.scale_days = [1], 4
    if args.only is None and shutil.which("wrk") is None:
        print("make bench needs wrk (Debian package wrk)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="festival-bench-") as folder:
        bench = Bench(args, Path(folder))
        try:
            results = asyncio.run(bench.run())
        finally:
            bench.close()
    Path(args.output).write_text(json.dumps(results, indent=2, ensure_ascii=False))
    print(table(results))
    print(f"\nwritten to {args.output}")
    bad = [k for k in CORRECTNESS if (k in results or not args.only) and results[k]]
    if bad:
        print(f"CORRECTNESS FAILED: {bad}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
