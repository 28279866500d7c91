"""Lottery batches (摇号, API.md "Fair distribution"): registration, one entry per person, a draw
at draw_at that the bureau or the job makes exactly once, and a public record from which
anyone recomputes the winners (and a tampered record fails)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import subprocess
import sys
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import pytest

from jobs.registry import BY_NAME
from service import keys
from service.domain import lottery
from service.domain.audit import Actor
from service.domain.context import Context
from tests.conftest import ROOT, Api, assert_error
from tests.support.factories import batch_body
from tests.support.lottery import ENTRIES, lottery_batch


async def enter(api: Api, batch_id: int, sub: str, pid: str | None = None) -> tuple[int, Any]:
    from service.auth import issue_token

    token, _ = issue_token(api.settings, role="resident", sub=sub, pid=pid)
    return await api.call(
        "POST", ENTRIES.format(batch_id), headers={"Authorization": f"Bearer {token}"}
    )


async def record(api: Api, batch_id: int) -> dict[str, Any]:
    _, body = await api.call("GET", f"/api/v1/batches/{batch_id}/draw", expect=200)
    return body


async def draw_now(api: Api, batch_id: int) -> tuple[int, Any]:
    return await api.call("POST", f"/api/v1/admin/batches/{batch_id}/draw", headers=api.bureau)


async def test_a_lottery_batch_publishes_its_seed_commitment_not_its_seed(api: Api) -> None:
    batch = await lottery_batch(api)
    assert batch["mode"] == "lottery" and batch["drawn_at"] is None
    assert len(batch["seed_commitment"]) == 64 and int(batch["seed_commitment"], 16) >= 0
    assert await record(api, batch["id"]) == {
        "batch_id": batch["id"],
        "status": "pending",
        "seed_commitment": batch["seed_commitment"],
        "entries": 0,
    }


async def test_one_entry_per_person_across_accounts(api: Api) -> None:
    batch = await lottery_batch(api)
    status, first = await enter(api, batch["id"], "alice-sms", pid="person-1")
    assert status == 201 and len(first["entry_id"]) == 32 and first["status"] == "pending"
    assert await enter(api, batch["id"], "alice-sms", pid="person-1") == (200, first)
    assert await enter(api, batch["id"], "alice-city", pid="person-1") == (200, first)
    status, other = await enter(api, batch["id"], "bob")
    assert status == 201 and other["entry_id"] != first["entry_id"]
    assert (await record(api, batch["id"]))["entries"] == 2


async def test_twenty_accounts_of_one_person_entering_at_once_make_one_entry(api: Api) -> None:
    batch = await lottery_batch(api)
    answers = await asyncio.gather(
        *(enter(api, batch["id"], f"acct-{i}", pid="one-person") for i in range(20))
    )
    assert sorted(s for s, _ in answers) == [200] * 19 + [201]
    assert len({b["entry_id"] for _, b in answers}) == 1


async def test_wrong_mode_and_outside_the_window(api: Api) -> None:
    batch = await lottery_batch(api)
    status, body = await api.call(
        "POST", f"/api/v1/batches/{batch['id']}/claims", headers=api.auth("resident", "r")
    )
    assert_error(status, body, 409, "lottery_batch")
    first_come = await api.create_batch()
    assert_error(*await enter(api, first_come["id"], "r"), 409, "not_lottery")
    later = await lottery_batch(
        api,
        claim_starts_at=(api.clock.now() + timedelta(hours=1)).isoformat(),
        claim_ends_at=(api.clock.now() + timedelta(hours=3)).isoformat(),
        draw_at=(api.clock.now() + timedelta(hours=3)).isoformat(),
    )
    assert_error(*await enter(api, later["id"], "r"), 409, "not_open")
    api.clock.advance(hours=1, seconds=1)
    assert_error(*await enter(api, batch["id"], "r"), 409, "closed")
    assert_error(*await enter(api, 999999, "r"), 404, "not_found")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"draw_at": None}, "draw_at"),
        ({"draw_at": "2020-05-06T10:30:00+08:00"}, "draw_at"),  # before registration ends
        ({"mode": "raffle"}, "mode"),
    ],
)
async def test_lottery_batches_need_a_draw_after_registration(
    api: Api, change: dict[str, Any], field: str
) -> None:
    body = batch_body(
        api.clock, **{"mode": "lottery", "draw_at": "2020-05-07T10:00:00+08:00", **change}
    )
    status, answer = await api.call("POST", "/api/v1/admin/batches", json=body, headers=api.bureau)
    assert_error(status, answer, 400, "invalid_request")
    assert field in answer["error"]["details"]
    body = batch_body(api.clock, draw_at="2020-05-07T10:00:00+08:00")  # first come, with a draw
    status, answer = await api.call("POST", "/api/v1/admin/batches", json=body, headers=api.bureau)
    assert_error(status, answer, 400, "invalid_request")


async def test_the_draw_once_due_and_once_only_with_a_verifiable_record(api: Api) -> None:
    batch = await lottery_batch(api, quantity=3)
    entries = {}
    for i in range(10):
        _, entry = await enter(api, batch["id"], f"r{i}")
        entries[entry["entry_id"]] = f"r{i}"
    assert_error(*await draw_now(api, batch["id"]), 409, "not_open")  # before draw_at
    api.clock.advance(hours=2)
    status, drawn = await draw_now(api, batch["id"])
    assert status == 200, drawn
    assert drawn["status"] == "drawn" and drawn["entries"] == 10 and drawn["drawn_quantity"] == 3
    assert hashlib.sha256(bytes.fromhex(drawn["seed"])).hexdigest() == batch["seed_commitment"]
    ranking = sorted(entries, key=lambda e: lottery.rank_key(bytes.fromhex(drawn["seed"]), e))
    assert drawn["entry_ids"] == ranking and drawn["winner_entry_ids"] == ranking[:3]
    assert lottery.verify_record(drawn) == []
    assert await record(api, batch["id"]) == drawn
    assert_error(*await draw_now(api, batch["id"]), 409, "already_drawn")
    (entry,) = await api.audit(action="lottery.draw")  # the refused attempts left nothing
    assert entry["object"] == f"batches/{batch['id']}"
    after_draw = dict(entry["after"])
    drawn_at = datetime.fromisoformat(after_draw.pop("drawn_at"))
    assert after_draw == {"entries": 10, "winners": 3}
    assert drawn_at == datetime.fromisoformat(drawn["drawn_at"])  # the moment of the draw

    # Winners hold a voucher claimed at the draw; everyone sees their result.
    for entry_id, sub in entries.items():
        _, mine = await api.call(
            "GET", "/api/v1/me/entries", headers=api.auth("resident", sub), expect=200
        )
        (result,) = mine
        won = entry_id in ranking[:3]
        assert result["status"] == ("won" if won else "lost")
        _, wallet = await api.call(
            "GET", "/api/v1/me/vouchers", headers=api.auth("resident", sub), expect=200
        )
        assert [v["code"] for v in wallet] == ([result["voucher_code"]] if won else [])
        if won:
            assert wallet[0]["claimed_at"] == drawn["drawn_at"]
    _, after = await api.call("GET", f"/api/v1/batches/{batch['id']}")
    assert (after["remaining"], after["drawn_at"]) == (0, drawn["drawn_at"])


async def test_fewer_entries_than_vouchers_all_win(api: Api) -> None:
    batch = await lottery_batch(api, quantity=5)
    for i in range(2):
        await enter(api, batch["id"], f"r{i}")
    api.clock.advance(hours=2)
    _, drawn = await draw_now(api, batch["id"])
    assert len(drawn["winner_entry_ids"]) == 2 and lottery.verify_record(drawn) == []
    _, after = await api.call("GET", f"/api/v1/batches/{batch['id']}")
    assert after["remaining"] == 3


def tampered(drawn: dict[str, Any], **change: Any) -> dict[str, Any]:
    return {**json.loads(json.dumps(drawn)), **change}


async def test_a_tampered_record_fails_verification(api: Api) -> None:
    batch = await lottery_batch(api, quantity=2)
    for i in range(6):
        await enter(api, batch["id"], f"r{i}")
    api.clock.advance(hours=2)
    _, drawn = await draw_now(api, batch["id"])
    ids = drawn["entry_ids"]
    # An entry slipped in that would have won (one ranked last changes no one's fate, and no
    # record can show it was never entered).
    seed = bytes.fromhex(drawn["seed"])
    first = lottery.rank_key(seed, ids[0])
    added = next(e for e in (f"{n:032x}" for n in range(1000)) if lottery.rank_key(seed, e) < first)
    cases = {
        "another seed": tampered(drawn, seed="00" * 32),
        "entries reordered": tampered(drawn, entry_ids=[ids[1], ids[0], *ids[2:]]),
        "an entry dropped": tampered(drawn, entry_ids=ids[1:], entries=5),
        "an entry added": tampered(drawn, entry_ids=[*ids, added], entries=7),
        "other winners": tampered(drawn, winner_entry_ids=[ids[0], ids[2]]),
        "a winner too many": tampered(drawn, winner_entry_ids=ids[:3]),
    }
    for what, record_ in cases.items():
        assert lottery.verify_record(record_), what
    assert lottery.verify_record(drawn) == []


async def test_the_job_draws_each_due_batch_once_whoever_runs_it(api: Api) -> None:
    due = await lottery_batch(api, quantity=2)
    later = await lottery_batch(api, draw_at=(api.clock.now() + timedelta(days=1)).isoformat())
    for i in range(5):
        await enter(api, due["id"], f"r{i}")
    api.clock.advance(hours=2)
    runner = api.client.app[keys.JOBS]
    # The job twice at once, and the bureau's button at the same moment: one draw.
    results = await asyncio.gather(
        runner.run_now(BY_NAME["lottery_draw"]),
        runner.run(BY_NAME["lottery_draw"], "other-period", api.clock.now().date()),
        draw_now(api, due["id"]),
        return_exceptions=True,
    )
    drawn = await record(api, due["id"])
    assert drawn["status"] == "drawn" and len(drawn["winner_entry_ids"]) == 2, results
    assert (await record(api, later["id"]))["status"] == "pending"
    db = api.client.app[keys.DB]
    async with db.connection() as conn:
        vouchers = await conn.raw.fetchval(
            "SELECT count(*) FROM vouchers WHERE batch_id = $1", due["id"]
        )
    assert vouchers == 2


async def test_a_draw_cut_short_leaves_nothing_and_draws_the_same_again(api: Api) -> None:
    batch = await lottery_batch(api, quantity=300)
    db = api.client.app[keys.DB]
    async with db.connection() as conn:  # 20,000 entries, written straight in
        resident = await conn.raw.fetchval(
            "INSERT INTO residents (sub) VALUES ('bulk') RETURNING id"
        )
        await conn.raw.execute(
            "INSERT INTO lottery_entries (entry_id, batch_id, person, resident_id, entered_at)"
            " SELECT md5(i::text), $1, 'p' || i, $2, now() FROM generate_series(1, 20000) i",
            batch["id"],
            resident,
        )
    api.clock.advance(hours=2)
    jobs_db = api.client.app[keys.JOBS].db
    # Cut short for certain, not by a race with the clock: the draw has locked its batch and
    # is in its statement, waiting for the ledger that another transaction holds.
    blocker = await asyncpg.connect(api.settings.database_url)
    hold = blocker.transaction()
    await hold.start()
    await blocker.execute("LOCK TABLE voucher_events IN ACCESS EXCLUSIVE MODE")
    attempt = asyncio.create_task(
        lottery.draw(
            Context(db=jobs_db, actor=Actor("test"), now=api.clock.now(), tz=api.settings.tz),
            batch_id=batch["id"],
        )
    )
    for _ in range(200):
        waiting = await blocker.fetchval(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        if waiting:
            break
        await asyncio.sleep(0.05)
    assert waiting, "the draw never reached its statement"
    attempt.cancel()
    with pytest.raises(asyncio.CancelledError):
        await attempt
    await hold.rollback()
    await blocker.close()
    assert (await record(api, batch["id"]))["status"] == "pending"
    async with db.connection() as conn:
        assert await conn.raw.fetchval("SELECT count(*) FROM vouchers") == 0
    _, drawn = await draw_now(api, batch["id"])
    assert len(drawn["winner_entry_ids"]) == 300 and lottery.verify_record(drawn) == []


async def test_the_verify_command_checks_a_served_record(api: Api) -> None:
    batch = await lottery_batch(api, quantity=1)
    for i in range(4):
        await enter(api, batch["id"], f"r{i}")
    api.clock.advance(hours=2)
    await draw_now(api, batch["id"])
    url = str(api.client.make_url("")).rstrip("/")
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "service.cli", "lottery", "verify", str(batch["id"]), "--url", url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "verified: batch" in result.stdout and "4 entries, 1 winners" in result.stdout


async def test_draws_of_unknown_or_first_come_batches_are_refused(api: Api) -> None:
    first_come = await api.create_batch()
    assert_error(*await draw_now(api, 999_999), 404, "not_found")
    assert_error(*await draw_now(api, first_come["id"]), 409, "not_lottery")
    for batch_id in (999_999, first_come["id"]):  # the public record: no such lottery
        status, body = await api.call("GET", f"/api/v1/batches/{batch_id}/draw")
        assert_error(status, body, 404, "not_found")
    status, body = await api.call(
        "POST", f"/api/v1/admin/batches/{first_come['id']}/draw", headers=api.auth("resident")
    )
    assert_error(status, body, 403, "forbidden")
