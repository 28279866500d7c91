"""A resident account is bound to the person it first came with (API.md, "Input rules"): the
tester's 6th finding was one `sub` entering a lottery, and claiming past the per-person limit,
as a second person by dropping or changing its token's `pid`. A later token of the account
with another `pid` is 401; one without `pid` counts as the bound person."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from service.migrations import migrate_url
from tests.conftest import Api, assert_error
from tests.support.lottery import ENTRIES, lottery_batch
from tests.support.persons import PHONE, claim, pid_of, platform_token, sms_token
from tests.support.races import holding, started, waiting

A, B = "pid-of-person-a", "pid-of-person-b"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_another_pid_is_401_and_no_pid_is_the_bound_person(
    city: tuple[Api, rsa.RSAPrivateKey],
) -> None:
    api, key = city
    batch = await api.create_batch(quantity=10, per_resident_limit=1)
    lottery = await lottery_batch(api)
    as_a = platform_token(key, "city-1", A)
    assert (await claim(api, batch["id"], as_a))[0] == 201
    _, entered = await api.call("POST", ENTRIES.format(lottery["id"]), headers=bearer(as_a))

    # The same account as another person: refused everywhere, nothing taken.
    as_b = platform_token(key, "city-1", B)
    assert_error(*await claim(api, batch["id"], as_b), 401, "unauthorized")
    for method, path in (
        ("POST", ENTRIES.format(lottery["id"])),
        ("GET", "/api/v1/me/vouchers"),
        ("GET", "/api/v1/me/entries"),
    ):
        assert_error(*await api.call(method, path, headers=bearer(as_b)), 401, "unauthorized")

    # Without a pid it is still person A: no second share, the same entry.
    unnamed = platform_token(key, "city-1", None)
    assert_error(*await claim(api, batch["id"], unnamed), 409, "limit_reached")
    status, again = await api.call("POST", ENTRIES.format(lottery["id"]), headers=bearer(unnamed))
    assert status == 200 and again["entry_id"] == entered["entry_id"]
    _, mine = await api.call("GET", "/api/v1/me/entries", headers=bearer(unnamed), expect=200)
    assert [e["entry_id"] for e in mine] == [entered["entry_id"]]
    _, wallet = await api.call("GET", "/api/v1/me/vouchers", headers=bearer(unnamed), expect=200)
    assert len(wallet) == 1

    _, after = await api.call("GET", f"/api/v1/batches/{batch['id']}")
    assert after["remaining"] == 9
    _, draw = await api.call("GET", f"/api/v1/batches/{lottery['id']}/draw")
    assert draw["entries"] == 1
    # Person B with an account of its own is someone else, as before.
    assert (await claim(api, batch["id"], platform_token(key, "city-2", B)))[0] == 201


async def test_an_account_first_seen_without_pid_is_its_own_person_for_good(
    city: tuple[Api, rsa.RSAPrivateKey],
) -> None:
    api, key = city
    batch = await api.create_batch(quantity=10, per_resident_limit=1)
    assert (await claim(api, batch["id"], platform_token(key, "city-3", None)))[0] == 201
    named = platform_token(key, "city-3", A)
    assert_error(*await claim(api, batch["id"], named), 401, "unauthorized")
    assert_error(
        *await api.call("GET", "/api/v1/me/vouchers", headers=bearer(named)), 401, "unauthorized"
    )


async def test_an_sms_account_is_bound_at_login(city: tuple[Api, rsa.RSAPrivateKey]) -> None:
    """The account an SMS login makes is bound to the phone's person before its first claim."""
    api, key = city
    sms = await sms_token(api)
    _, wallet = await api.call("GET", "/api/v1/me/vouchers", headers=bearer(sms), expect=200)
    assert wallet == []
    sub = await _sub_of_phone(api)
    lottery = await lottery_batch(api)
    as_other = platform_token(key, sub, A)
    status, body = await api.call("POST", ENTRIES.format(lottery["id"]), headers=bearer(as_other))
    assert_error(status, body, 401, "unauthorized")
    as_phone = platform_token(key, sub, pid_of(PHONE))
    status, _ = await api.call("POST", ENTRIES.format(lottery["id"]), headers=bearer(as_phone))
    assert status == 201


async def _sub_of_phone(api: Api) -> str:
    conn = await asyncpg.connect(api.settings.database_url)
    try:
        return str(await conn.fetchval("SELECT sub FROM residents WHERE phone_hash IS NOT NULL"))
    finally:
        await conn.close()


async def test_hundreds_of_first_claims_with_two_pids_count_for_one_person(
    city: tuple[Api, rsa.RSAPrivateKey],
) -> None:
    """One account's first taps arrive at once under two pids, combined into the same claim
    transactions: the account is bound to one person, and only that person's taps win."""
    api, key = city
    batch = await api.create_batch(quantity=1000, per_resident_limit=100)
    tokens = {pid: platform_token(key, "city-4", pid) for pid in (A, B)}
    pids = [A if i % 2 else B for i in range(300)]
    answers = await asyncio.gather(*(claim(api, batch["id"], tokens[pid]) for pid in pids))
    statuses = {
        pid: sorted(s for p, (s, _) in zip(pids, answers, strict=True) if p == pid)
        for pid in (A, B)
    }
    won = {pid for pid, seen in statuses.items() if 201 in seen}
    assert len(won) == 1
    lost = ({A, B} - won).pop()
    assert statuses[lost] == [401] * 150
    assert statuses[min(won)] == [201] * 100 + [409] * 50  # the person's limit, no more
    conn = await asyncpg.connect(api.settings.database_url)
    try:
        persons = await conn.fetch(
            "SELECT DISTINCT v.person FROM vouchers v JOIN residents r ON r.id = v.resident_id"
            " WHERE r.sub = 'city-4'"
        )
    finally:
        await conn.close()
    assert [r["person"] for r in persons] == [f"p:{won.pop()}"]


@pytest.mark.parametrize("path", ["claim", "entry"])
async def test_a_binding_in_flight_decides_the_claim_or_entry_that_waits_for_it(
    city: tuple[Api, rsa.RSAPrivateKey], path: str
) -> None:
    """Another process creates the account as person A and holds its transaction open; a
    request of the same account as person B waits for it, then is refused, never bound twice."""
    api, key = city
    batch = await api.create_batch(quantity=10)
    lottery = await lottery_batch(api)
    as_b = platform_token(key, "city-5", B)
    if path == "claim":
        request = claim(api, batch["id"], as_b)
    else:
        request = api.call("POST", ENTRIES.format(lottery["id"]), headers=bearer(as_b))
    sql = "INSERT INTO residents (sub, person) VALUES ('city-5', $1)"
    async with holding(api, sql, f"p:{A}"):
        answer = started(request)
        await waiting(api, 1)
        assert not answer.done()
    assert_error(*await answer, 401, "unauthorized")
    as_a = platform_token(key, "city-5", A)
    assert (await claim(api, batch["id"], as_a))[0] == 201


async def test_a_binding_never_changes(api: Api) -> None:
    conn = await asyncpg.connect(api.settings.database_url)
    try:
        await conn.execute("INSERT INTO residents (sub, person) VALUES ('s', 'p:a')")
        with pytest.raises(asyncpg.IntegrityConstraintViolationError):
            await conn.execute("UPDATE residents SET person = 'p:b' WHERE sub = 's'")
        with pytest.raises(asyncpg.IntegrityConstraintViolationError):
            await conn.execute("UPDATE residents SET person = NULL WHERE sub = 's'")
    finally:
        await conn.close()


async def test_the_migration_binds_each_account_to_its_first_person(
    empty_db_url: str, city: tuple[Api, rsa.RSAPrivateKey]
) -> None:
    """Accounts of a festival run before 0014 are bound to the person of their first voucher
    or entry (one that already counted as two persons keeps what it holds); an account with
    neither is bound by its next claim."""
    await migrate_url(empty_db_url, upto=13)
    start = datetime(2020, 5, 4, 2, tzinfo=UTC)
    conn = await asyncpg.connect(empty_db_url)
    try:
        batch = await conn.fetchval(
            "INSERT INTO batches (category, title, face_value_fen, min_spend_fen, quantity,"
            " per_resident_limit, claim_starts_at, claim_ends_at, valid_days, claimed)"
            " VALUES ('shopping', '购物券', 2000, 10000, 100, 1, $1, $2, 30, 3) RETURNING id",
            start,
            start + timedelta(days=3),
        )
        lottery = await conn.fetchval(
            "INSERT INTO batches (category, title, face_value_fen, min_spend_fen, quantity,"
            " per_resident_limit, claim_starts_at, claim_ends_at, valid_days, mode, draw_at,"
            " seed, seed_commitment) VALUES ('dining', '摇号券', 1000, 5000, 10, 1, $1, $2, 7,"
            " 'lottery', $2, $3, 'c') RETURNING id",
            start,
            start + timedelta(days=3),
            os.urandom(32),
        )
        ids = {}
        for sub in ("twice", "entrant", "idle"):
            ids[sub] = await conn.fetchval(
                "INSERT INTO residents (sub) VALUES ($1) RETURNING id", sub
            )
        # 'twice' entered as B first, then claimed as A and later as B (the old hole).
        await conn.execute(
            "INSERT INTO lottery_entries (entry_id, batch_id, person, resident_id, entered_at)"
            " VALUES ($1, $2, 'p:B', $3, $4), ($5, $2, 'p:E', $6, $7)",
            "a" * 32,
            lottery,
            ids["twice"],
            start + timedelta(hours=5),
            "b" * 32,
            ids["entrant"],
            start + timedelta(hours=1),
        )
        for n, (person, hour) in enumerate((("p:A", 1), ("p:B", 2))):
            await conn.execute(
                "INSERT INTO vouchers (code, batch_id, per_resident_limit, resident_id, person,"
                " slot, status, claimed_at, expires_at)"
                " VALUES ($1, $2, 1, $3, $4, 1, 'active', $5, $6)",
                f"OLDCODE{n:04d}",
                batch,
                ids["twice"],
                person,
                start + timedelta(hours=hour),
                start + timedelta(days=30),
            )
    finally:
        await conn.close()
    await migrate_url(empty_db_url)
    conn = await asyncpg.connect(empty_db_url)
    try:
        bound = dict(await conn.fetch("SELECT sub, person FROM residents"))
    finally:
        await conn.close()
    assert bound == {"twice": "p:A", "entrant": "p:E", "idle": None}

    # The unbound account is bound by its next claim (here on the test's own database).
    api, key = city
    fresh = await api.create_batch(quantity=10, per_resident_limit=1)
    conn = await asyncpg.connect(api.settings.database_url)
    try:
        await conn.execute("INSERT INTO residents (sub) VALUES ('idle')")
    finally:
        await conn.close()
    assert (await claim(api, fresh["id"], platform_token(key, "idle", B)))[0] == 201
    status, body = await claim(api, fresh["id"], platform_token(key, "idle", A))
    assert_error(status, body, 401, "unauthorized")
