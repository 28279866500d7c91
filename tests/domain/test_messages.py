"""The outbox's own guarantees (service/domain/messages.py) and the phones at rest
(service/domain/phones.py): a message is written with its cause or not at all, once per
cause; a phone is stored only sealed (AES-GCM, bound to its row), opened only to send, and
never logged or answered in the clear."""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from service import keys
from service.app import create_app
from service.domain import messages
from service.domain.phones import (
    PhoneCipher,
    PhoneKeyError,
    message_phone_binding,
    resident_phone_binding,
)
from service.settings import Settings
from service.sms import LogSmsSender
from service.vocabulary import APPLICATION_DECISION, LOTTERY_RESULT
from tests.conftest import Api
from tests.support.lottery import ENTRIES, lottery_batch
from tests.support.messages import phone, rows, send, signed_in, sql
from tests.support.races import started, waiting

TEXT = "【春暖槐荫消费节】您的报名已通过。"


async def test_a_message_is_written_with_its_cause_or_not_at_all(api: Api) -> None:
    db, cipher = api.client.app[keys.DB], api.client.app[keys.PHONES]
    now = api.clock.now()
    with pytest.raises(RuntimeError, match="the cause fails"):
        async with db.transaction() as tx:
            queued = await messages.enqueue(
                tx,
                kind=APPLICATION_DECISION,
                dedupe_key="application:1",
                text=TEXT,
                now=now,
                phone=phone(1),
                cipher=cipher,
            )
            assert queued is not None
            raise RuntimeError("the cause fails after queueing its message")
    assert await rows(api) == []
    # Committed with its cause, it is there, queued for now.
    async with db.transaction() as tx:
        queued = await messages.enqueue(
            tx,
            kind=APPLICATION_DECISION,
            dedupe_key="application:1",
            text=TEXT,
            now=now,
            phone=phone(1),
            cipher=cipher,
        )
    (row,) = await rows(api)
    assert (row["id"], row["status"], row["attempts"]) == (queued, "queued", 0)
    assert (row["next_attempt_at"], row["phone_masked"]) == (now, "139****0001")


async def test_a_cause_queues_its_message_once_even_from_two_transactions_at_once(
    api: Api,
) -> None:
    db, cipher = api.client.app[keys.DB], api.client.app[keys.PHONES]

    async def enqueue(tx: Any) -> int | None:
        return await messages.enqueue(
            tx,
            kind=APPLICATION_DECISION,
            dedupe_key="application:7",
            text=TEXT,
            now=api.clock.now(),
            phone=phone(7),
            cipher=cipher,
        )

    async with db.transaction() as first:
        assert await enqueue(first) is not None

        async def second() -> int | None:
            async with db.transaction() as tx:
                return await enqueue(tx)

        other = started(second())
        await waiting(api, 1)  # the second waits on the first's uncommitted row
    assert await other is None  # the first committed: the cause has its message
    async with db.transaction() as tx:
        assert await enqueue(tx) is None  # and a later retry of the cause adds none
    assert len(await rows(api)) == 1


async def test_enqueue_refuses_what_is_not_a_message(api: Api) -> None:
    db, cipher = api.client.app[keys.DB], api.client.app[keys.PHONES]
    now = api.clock.now()
    bad: list[dict[str, Any]] = [
        {"kind": "newsletter", "phone": phone(1), "cipher": cipher},
        {"kind": APPLICATION_DECISION},  # no recipient
        {"kind": APPLICATION_DECISION, "phone": phone(1), "cipher": cipher, "resident_id": 1},
        {"kind": APPLICATION_DECISION, "phone": phone(1)},  # nothing to seal it with
        {"kind": APPLICATION_DECISION, "phone": phone(1), "cipher": cipher, "text": ""},
        {"kind": APPLICATION_DECISION, "phone": phone(1), "cipher": cipher, "text": "长" * 501},
    ]
    for case in bad:
        with pytest.raises(ValueError):
            async with db.transaction() as tx:
                await messages.enqueue(
                    tx, dedupe_key="application:1", now=now, **{"text": TEXT, **case}
                )
    assert await rows(api) == []


async def test_a_resident_without_a_phone_gets_no_message(api: Api) -> None:
    """An identity-platform account never gave the service a phone: nothing is queued."""
    batch = await api.create_batch()
    await api.claimed(batch["id"], sub="city-resident")
    (resident,) = await sql(api, "SELECT id FROM residents WHERE sub = 'city-resident'")
    async with api.client.app[keys.DB].transaction() as tx:
        queued = await messages.enqueue(
            tx,
            kind=LOTTERY_RESULT,
            dedupe_key="lottery:1:r:city-resident",
            text=TEXT,
            now=api.clock.now(),
            resident_id=resident["id"],
        )
    assert queued is None
    assert await rows(api) == []


async def test_phones_are_sealed_bound_to_their_row_and_open_only_with_the_key(api: Api) -> None:
    cipher = api.client.app[keys.PHONES]
    await signed_in(api, phone(1))
    await signed_in(api, phone(2))
    one, two = await sql(
        api,
        "SELECT id, phone_enc, phone_masked FROM residents WHERE phone_enc IS NOT NULL ORDER BY id",
    )
    assert one["phone_masked"] == "139****0001"
    sealed = bytes(one["phone_enc"])
    assert len(sealed) == 1 + 12 + 11 + 16  # version, 96-bit nonce, the digits, the tag
    assert cipher.open(sealed, bound_to=resident_phone_binding(one["id"])) == phone(1)
    # Copied to another row, or opened for another purpose, it does not open.
    with pytest.raises(PhoneKeyError):
        cipher.open(sealed, bound_to=resident_phone_binding(two["id"]))
    with pytest.raises(PhoneKeyError):
        cipher.open(sealed, bound_to=message_phone_binding("application:1"))
    # Another key opens nothing; a flipped bit is refused, not misread.
    with pytest.raises(PhoneKeyError):
        PhoneCipher(secrets.token_bytes(32)).open(
            sealed, bound_to=resident_phone_binding(one["id"])
        )
    flipped = sealed[:20] + bytes([sealed[20] ^ 1]) + sealed[21:]
    with pytest.raises(PhoneKeyError):
        cipher.open(flipped, bound_to=resident_phone_binding(one["id"]))
    # A fresh nonce each time: the same phone never seals to the same bytes.
    assert cipher.seal(phone(1), bound_to="x") != cipher.seal(phone(1), bound_to="x")
    # Signing in again (a minute later: one code a minute) seals it anew, still bound to the
    # same row.
    api.clock.advance(minutes=1)
    await signed_in(api, phone(1))
    (again,) = await sql(api, "SELECT phone_enc FROM residents WHERE id = $1", one["id"])
    assert bytes(again["phone_enc"]) != sealed
    assert cipher.open(again["phone_enc"], bound_to=resident_phone_binding(one["id"])) == phone(1)
    assert "key" not in repr(cipher).replace("<key hidden>", "")


async def _all_text(conn: asyncpg.Connection) -> str:
    """Every row of every table of the festival's schema, as text."""
    tables = await conn.fetch(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
    )
    parts = []
    for t in tables:
        for row in await conn.fetch(f'SELECT t::text AS row FROM "{t["tablename"]}" t'):
            parts.append(row["row"])
    return "\n".join(parts)


async def _heap_bytes(conn: asyncpg.Connection, table: str) -> bytes:
    """The table's files as PostgreSQL wrote them (heap and TOAST), after a checkpoint."""
    await conn.execute("CHECKPOINT")
    found = b""
    for relation in (
        f"'{table}'::regclass",
        f"(SELECT reltoastrelid FROM pg_class WHERE oid = '{table}'::regclass)",
    ):
        path = await conn.fetchval(f"SELECT pg_relation_filepath({relation})")
        if path is not None:
            found += await conn.fetchval("SELECT pg_read_binary_file($1)", path)
    return found


async def test_the_database_holds_no_phone_in_the_clear(api: Api) -> None:
    """After sign-ins, a draw, its messages queued and sent, and an applicant's message: no
    table's rows, and no byte of the residents' or messages' files, hold a phone's digits."""
    numbers = [phone(n) for n in (11, 12, 13)]
    lottery = await lottery_batch(api, quantity=1)
    for number in numbers:
        headers = await signed_in(api, number)
        await api.call("POST", ENTRIES.format(lottery["id"]), headers=headers, expect=201)
    api.clock.advance(hours=2)
    await api.call(
        "POST", f"/api/v1/admin/batches/{lottery['id']}/draw", headers=api.bureau, expect=200
    )
    async with api.client.app[keys.DB].transaction() as tx:
        await messages.enqueue(
            tx,
            kind=APPLICATION_DECISION,
            dedupe_key="application:3",
            text=TEXT,
            now=api.clock.now(),
            phone=phone(14),
            cipher=api.client.app[keys.PHONES],
        )
    await send(api)
    assert sorted(m.phone for m in api.sms.messages) == [*numbers, phone(14)]
    conn = await asyncpg.connect(api.settings.database_url)
    try:
        text = await _all_text(conn)
        assert "139****0011" in text  # the masked phones are there: the check can see text
        try:
            files = await _heap_bytes(conn, "residents") + await _heap_bytes(conn, "messages")
        except asyncpg.InsufficientPrivilegeError:
            pytest.skip("reading the table's files needs a superuser (TEST_DATABASE_URL)")
    finally:
        await conn.close()
    assert len(files) > 8192
    for number in [*numbers, phone(14)]:
        assert number not in text
        assert number.encode() not in files
        assert number[3:].encode() not in files  # nor its last eight digits
    # The applicant's phone, sealed on the message, is erased once it has been sent.
    (applicant,) = await rows(api, "dedupe_key = 'application:3'")
    assert (applicant["status"], applicant["phone_enc"]) == ("sent", None)


async def test_no_phone_reaches_the_log(
    settings: Any, clock: Any, aiohttp_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """With the log sender (the default): the login code, the draw's messages and a provider
    error that echoes the number are all logged with the phone masked."""
    app = create_app(settings=settings, clock=clock, sms=LogSmsSender())
    client = await aiohttp_client(app)
    api = Api(client, settings, clock, None)  # type: ignore[arg-type]
    caplog.set_level(logging.DEBUG)
    number = phone(21)
    await api.call("POST", "/api/v1/auth/otp", json={"phone": number}, expect=202)
    code = next(
        r.args[1]  # type: ignore[index]
        for r in caplog.records
        if r.name == "festival.sms" and "login code" in r.getMessage()
    )
    _, token = await api.call(
        "POST", "/api/v1/auth/resident", json={"phone": number, "code": code}, expect=200
    )
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    lottery = await lottery_batch(api, quantity=1)
    await api.call("POST", ENTRIES.format(lottery["id"]), headers=headers, expect=201)
    clock.advance(hours=2)
    await api.call(
        "POST", f"/api/v1/admin/batches/{lottery['id']}/draw", headers=api.bureau, expect=200
    )
    await send(api)
    assert "SMS log-hyf-" in caplog.text and "139****0021" in caplog.text

    class Echoing:
        """A gateway whose errors quote the number."""

        async def send_message(self, phone: str, text: str) -> str:
            raise RuntimeError(f"isv.MOBILE_NUMBER_ILLEGAL: {phone}")

    async with app[keys.DB].transaction() as tx:
        await messages.enqueue(
            tx,
            kind=APPLICATION_DECISION,
            dedupe_key="application:9",
            text=TEXT,
            now=clock.now(),
            phone=phone(22),
            cipher=app[keys.PHONES],
        )
    delivery = messages.Delivery(sender=Echoing(), cipher=app[keys.PHONES])
    sent = await messages.send_due(app[keys.DB], delivery, clock=clock, tz=settings.tz)
    assert sent.retried == 1
    (failed,) = await rows(api, "dedupe_key = 'application:9'")
    assert failed["last_error"] == "RuntimeError: isv.MOBILE_NUMBER_ILLEGAL: 139****0022"
    for secret in (number, phone(22)):
        assert secret not in caplog.text
        assert all(secret not in str(r.args) for r in caplog.records)
    # Nor does any answer carry it: the bureau's list shows it masked.
    _, listed = await api.call("GET", "/api/v1/admin/messages", headers=api.bureau, expect=200)
    assert number not in str(listed) and "139****0021" in str(listed)


async def test_backoff_doubles_up_to_an_hour() -> None:
    assert [messages.backoff(n) for n in range(1, 10)] == [
        timedelta(minutes=m) for m in (1, 2, 4, 8, 16, 32, 60, 60, 60)
    ]


def test_the_phone_key_is_generated_once_into_the_data_folder(tmp_path: Path) -> None:
    """As the JWT secret: FESTIVAL_PHONE_KEY if set (64 hex characters), else a random key
    written once into the data folder (mode 0600) that every process sharing it reads."""
    env = {"FESTIVAL_DATA_DIR": str(tmp_path), "FESTIVAL_JWT_SECRET": "s" * 48}
    first = Settings.from_env(env)
    assert (tmp_path / "phone_key").stat().st_mode & 0o777 == 0o600
    assert len(first.phone_key_bytes()) == 32
    assert Settings.from_env(env).phone_key_bytes() == first.phone_key_bytes()
    given = Settings.from_env({**env, "FESTIVAL_PHONE_KEY": "0F" * 32})
    assert given.phone_key_bytes() == bytes.fromhex("0f" * 32)
    assert "0f0f" not in repr(given).lower()  # never in a log line of the settings
    for bad in ("CHANGE-ME", "zz" * 32, "0f" * 31, "0f" * 33, "0f" * 16 + "\n", "０f" * 32):
        with pytest.raises(SystemExit, match="FESTIVAL_PHONE_KEY"):
            Settings.from_env({**env, "FESTIVAL_PHONE_KEY": bad})
    with pytest.raises(SystemExit, match="FESTIVAL_SMS_CONCURRENCY"):
        Settings.from_env({**env, "FESTIVAL_SMS_CONCURRENCY": "0"})
    with pytest.raises(SystemExit, match="FESTIVAL_SMS_LEASE"):
        Settings.from_env({**env, "FESTIVAL_SMS_LEASE": "-1"})
