"""The bureau's audit trail: every bureau write on a hash chain the database will not let
anyone rewrite, and a verify command that finds where it was tampered with."""

from __future__ import annotations

import asyncio
import itertools

import asyncpg
import pytest

from service import keys
from service.domain import audit
from tests.conftest import Api, assert_error, assert_invalid, assert_queries_invalid
from tests.support.downloads import csv_body
from tests.support.factories import batch_body, merchant_body

AUDIT = "/api/v1/admin/audit"


async def test_operators_commands_are_on_the_trail_too(api: Api) -> None:
    made = await api.cli(
        "admin",
        "create",
        "zhao.lei",
        "--password-stdin",
        stdin="a long password 9\n",
    )
    assert made.returncode == 0, made.stderr
    ran = await api.cli("jobs", "run", "daily_rollup", "--date", "2020-05-05")
    assert ran.returncode == 0, ran.stderr
    entries = await api.audit()
    assert [(e["action"], e["object"]) for e in reversed(entries)] == [
        ("bureau_user.create", "bureau_users/zhao.lei"),
        ("job.run", "jobs/daily_rollup"),
    ]
    assert all(e["actor"].startswith("cli:") for e in entries)
    assert entries[0]["after"] == {"date": "2020-05-05"}
    assert "password" not in str(entries)


async def test_bureau_writes_are_on_the_trail_with_who_what_and_before_after(api: Api) -> None:
    headers = {**api.auth("bureau", "zhang.wei"), "X-Request-Id": "req-audit-1"}
    _, created = await api.call(
        "POST",
        "/api/v1/admin/merchants",
        json=merchant_body(contact_phone="13812345678"),
        headers=headers,
        expect=201,
    )
    merchant_id = created["merchant"]["id"]
    await api.call(
        "PATCH",
        f"/api/v1/admin/merchants/{merchant_id}",
        json={"status": "suspended"},
        headers=api.auth("bureau", "li.na"),
        expect=200,
    )
    batch = await api.create_batch()
    await api.call(
        "PATCH", f"/api/v1/admin/batches/{batch['id']}", json={"quantity": 80}, headers=api.bureau
    )
    await api.call(
        "PUT",
        "/api/v1/admin/budget",
        json={"category": "shopping", "budget_fen": 10_000_000},
        headers=api.bureau,
        expect=200,
    )
    await api.call(
        "PUT",
        "/api/v1/admin/suspensions",
        json={"person": "r:someone", "suspended": True, "reason": "几个账号"},
        headers=api.bureau,
        expect=200,
    )
    await api.put_csv(
        "/api/v1/admin/baselines", "date,category,sales_fen\n2020-05-01,dining,100000\n", 200
    )
    await api.call(
        "POST", "/api/v1/admin/jobs/daily_rollup/runs", json={}, headers=api.bureau, expect=202
    )

    entries = await api.audit()
    assert [e["action"] for e in reversed(entries)] == [
        "merchant.create",
        "merchant.update",
        "batch.create",
        "batch.update",
        "budget.set",
        "person.suspend",
        "baselines.upload",
        "job.run",
    ]
    create, update = entries[-1], entries[-2]
    assert (create["actor"], create["request_id"]) == ("zhang.wei", "req-audit-1")
    assert create["object"] == f"merchants/{merchant_id}" and create["before"] is None
    # No secret and no phone in clear on the trail.
    assert "api_key_hash" not in create["after"]
    assert create["after"]["contact_phone"] == "138****5678"
    assert update["actor"] == "li.na"
    assert (update["before"]["status"], update["after"]["status"]) == ("active", "suspended")
    batch_entry = next(e for e in entries if e["action"] == "batch.create")
    assert "seed" not in batch_entry["after"] and batch_entry["after"]["quantity"] == 100
    changed = next(e for e in entries if e["action"] == "batch.update")
    assert (changed["before"]["quantity"], changed["after"]["quantity"]) == (100, 80)
    # Filters.
    assert [e["action"] for e in await api.audit(actor="li.na")] == ["merchant.update"]
    assert len(await api.audit(action="batch.create")) == 1
    assert [e["action"] for e in await api.audit(object=f"merchants/{merchant_id}")] == [
        "merchant.update",
        "merchant.create",
    ]
    assert await api.audit(**{"from": "2020-05-07"}) == []
    assert len(await api.audit(**{"from": "2020-05-06", "to": "2020-05-06"})) == 8
    assert len(await api.audit(limit="3")) == 3
    # Paged (issue 25: the page drew ~250 rows at once): each page starts past the last shown.
    first_page = await api.audit(limit="3")
    second_page = await api.audit(limit="3", before_id=str(first_page[-1]["id"]))
    assert [e["id"] for e in first_page + second_page] == [e["id"] for e in entries[:6]]
    # Linked: each entry names the one before it.
    ordered = list(reversed(entries))
    assert ordered[0]["prev_hash"] == audit.GENESIS
    assert all(b["prev_hash"] == a["hash"] for a, b in itertools.pairwise(ordered))
    status, csv = await api.call("GET", AUDIT, params={"format": "csv"}, headers=api.bureau)
    assert status == 200 and csv_body(csv).splitlines()[0].startswith(
        "id,at,actor,action,object,before"
    )
    assert '""status"":""suspended""' in csv


async def test_a_refused_write_leaves_no_entry(api: Api) -> None:
    await api.call(
        "PUT",
        "/api/v1/admin/budget",
        json={"category": "shopping", "budget_fen": 100_000},
        headers=api.bureau,
        expect=200,
    )
    status, body = await api.call(
        "POST",
        "/api/v1/admin/batches",
        json=batch_body(api.clock, quantity=1000),
        headers=api.bureau,
    )
    assert_error(status, body, 409, "over_budget")
    status, _ = await api.call(
        "PATCH", "/api/v1/admin/merchants/999999", json={"status": "active"}, headers=api.bureau
    )
    assert status == 404
    assert [e["action"] for e in await api.audit()] == ["budget.set"]


async def test_the_database_refuses_to_rewrite_the_trail(api: Api) -> None:
    await api.create_merchant()
    conn = await asyncpg.connect(api.settings.database_url)
    try:
        for statement in (
            "UPDATE audit_log SET actor = 'nobody'",
            "DELETE FROM audit_log",
            "TRUNCATE audit_log",
        ):
            with pytest.raises(asyncpg.RestrictViolationError, match="append-only"):
                await conn.execute(statement)
        assert await conn.fetchval("SELECT count(*) FROM audit_log") == 1
    finally:
        await conn.close()


async def test_verify_finds_the_first_entry_tampered_with(api: Api) -> None:
    for _ in range(5):
        await api.create_merchant()
    result = await api.cli("audit", "verify")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "intact: 5 entries" in result.stdout

    ids = [e["id"] for e in reversed(await api.audit())]
    conn = await asyncpg.connect(api.settings.database_url)
    try:
        # What an insider with the table owner's rights could do: switch the trigger off.
        await conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
        await conn.execute(
            "UPDATE audit_log SET after = jsonb_set(after, '{name}', '\"改过的名字\"') WHERE id = $1",
            ids[2],
        )
        await conn.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")
    finally:
        await conn.close()
    result = await api.cli("audit", "verify")
    assert result.returncode == 1
    assert f"broken at entry {ids[2]}: its content does not match its hash" in result.stderr
    assert "2 entries before it are intact" in result.stderr


async def test_verify_finds_a_deleted_entry(api: Api) -> None:
    for _ in range(4):
        await api.create_merchant()
    ids = [e["id"] for e in reversed(await api.audit())]
    conn = await asyncpg.connect(api.settings.database_url)
    try:
        await conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
        await conn.execute("DELETE FROM audit_log WHERE id = $1", ids[1])
        await conn.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")
    finally:
        await conn.close()
    result = await api.cli("audit", "verify")
    assert result.returncode == 1
    assert f"broken at entry {ids[2]}: its prev_hash is not the previous entry's hash" in (
        result.stderr
    )


async def test_concurrent_bureau_writes_make_one_unbroken_chain(api: Api) -> None:
    answers = await asyncio.gather(
        *(
            api.call("POST", "/api/v1/admin/merchants", json=merchant_body(), headers=api.bureau)
            for _ in range(40)
        )
    )
    assert [s for s, _ in answers] == [201] * 40
    entries = list(reversed(await api.audit()))
    assert len(entries) == 40
    assert sorted(e["object"] for e in entries) == sorted(
        f"merchants/{b['merchant']['id']}" for _, b in answers
    )
    assert await audit.verify(api.client.app[keys.DB]) == audit.Verified(40)


async def test_bad_trail_queries_are_400(api: Api) -> None:
    await assert_queries_invalid(
        api,
        AUDIT,
        "?from=2020-13-01 ?to=yesterday ?action=DROP-TABLE ?limit=0 ?limit=5001 ?limit=١٢"
        " ?format=xml ?actor= ?from=1999-12-31 ?page=2 ?before_id=0 ?before_id=x",
        headers=api.bureau,
    )
    status, body = await api.call(
        "GET", AUDIT, params={"from": "2020-05-07", "to": "2020-05-06"}, headers=api.bureau
    )
    assert_invalid(status, body, "from")
