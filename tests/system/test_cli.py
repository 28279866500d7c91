"""The `festival` command as operators use it: serve, migrate, token, admin create."""

from __future__ import annotations

import asyncio
import json
import signal
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import asyncpg
import psutil

from service.migrations import latest_version
from tests.support.processes import festival_env, run_festival, serving

PHONE = "13912345678"


def http(method: str, url: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def test_serve_migrates_an_empty_database_and_logs_no_secrets(
    empty_db_url: str, tmp_path: Path
) -> None:
    env = festival_env(empty_db_url, tmp_path)
    created = run_festival(
        ["admin", "create", "analyst", "--password-stdin"], env, stdin="a long password 1\n"
    )
    assert created.returncode == 0, created.stderr
    assert "created" in created.stdout
    with serving(env, tmp_path / "serve.log") as server:
        status, body = http("GET", server.base + "/readyz")
        assert status == 200 and body["schema_version"] == latest_version()
        status, body = http(
            "POST",
            server.base + "/api/v1/auth/bureau",
            {"username": "analyst", "password": "a long password 1"},
        )
        assert status == 200, body
        token = body["access_token"]
        status, body = http(
            "GET", server.base + "/api/v1/admin/merchants?category=dining", token=token
        )
        assert (status, body) == (200, [])
        status, _ = http("POST", server.base + "/api/v1/auth/otp", {"phone": PHONE})
        assert status == 202
        minted = run_festival(["token", "--role", "bureau", "--sub", "ops"], env).stdout.strip()
        status, body = http("GET", server.base + "/api/v1/auth/me", token=minted)
        assert (status, body["sub"]) == (200, "ops")
    assert server.process.returncode == 0, server.log()
    log = server.log()
    assert "GET /api/v1/admin/merchants 200" in log  # the access log is on, without the query
    assert "category=dining" not in log
    assert token not in log and minted not in log
    assert PHONE not in log and "139****5678" in log  # the log SMS sender masks the phone
    assert "a long password" not in log


def test_token_command_refuses_a_merchant_token_without_mid(tmp_path: Path) -> None:
    result = run_festival(
        ["token", "--role", "merchant", "--sub", "x"], festival_env(None, tmp_path)
    )
    assert result.returncode == 2 and "mid" in result.stderr


def test_admin_create_refuses_a_short_password(empty_db_url: str, tmp_path: Path) -> None:
    result = run_festival(
        ["admin", "create", "analyst", "--password-stdin"],
        festival_env(empty_db_url, tmp_path),
        stdin="short\n",
    )
    assert result.returncode == 2


def test_migrating_twice_changes_nothing(empty_db_url: str, tmp_path: Path) -> None:
    env = festival_env(empty_db_url, tmp_path)
    first = run_festival(["migrate"], env)
    assert first.returncode == 0, first.stderr
    assert f"migrations applied: {list(range(1, latest_version() + 1))}" in first.stdout
    schema_before = asyncio.run(schema_snapshot(empty_db_url))
    second = run_festival(["migrate"], env)
    assert second.returncode == 0 and "none (already current)" in second.stdout
    assert asyncio.run(schema_snapshot(empty_db_url)) == schema_before


def test_two_processes_migrating_at_once_both_succeed(empty_db_url: str, tmp_path: Path) -> None:
    import subprocess

    from tests.support.processes import FESTIVAL, ROOT

    env = festival_env(empty_db_url, tmp_path)
    procs = [
        subprocess.Popen(
            [*FESTIVAL, "migrate"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], results

    async def versions() -> list[int]:
        conn = await asyncpg.connect(empty_db_url)
        try:
            return [
                r[0] for r in await conn.fetch("SELECT version FROM schema_migrations ORDER BY 1")
            ]
        finally:
            await conn.close()

    assert asyncio.run(versions()) == list(range(1, latest_version() + 1))


async def schema_snapshot(url: str) -> list[tuple[Any, ...]]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            """
            SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns
            WHERE table_schema = 'public' ORDER BY 1, 2
            """
        )
        constraints = await conn.fetch(
            "SELECT conname FROM pg_constraint"
            " WHERE connamespace = 'public'::regnamespace ORDER BY 1"
        )
    finally:
        await conn.close()
    return [tuple(r) for r in rows] + [tuple(r) for r in constraints]


def test_serve_on_the_embedded_database_starts_reuses_and_stops_it(tmp_path: Path) -> None:
    env = festival_env(None, tmp_path)
    for _ in range(2):  # the second start reuses the data folder
        with serving(env, tmp_path / "serve.log", "--no-scheduler") as server:
            status, body = http("GET", server.base + "/readyz")
            assert status == 200, body
            postgres = [
                p
                for p in psutil.process_iter(["cmdline"])
                if str(tmp_path / "var" / "pgdata") in " ".join(p.info["cmdline"] or [])
                or str(tmp_path / "pgdata") in " ".join(p.info["cmdline"] or [])
            ]
            assert postgres, "the embedded PostgreSQL should run under the data folder"
            server.process.send_signal(signal.SIGTERM)
            server.process.wait(timeout=30)
        assert server.process.returncode == 0, server.log()
        deadline = time.monotonic() + 10
        while any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in postgres):
            assert time.monotonic() < deadline, "the embedded PostgreSQL was left running"
            time.sleep(0.1)
    assert (tmp_path / "pgdata" / "PG_VERSION").exists()
