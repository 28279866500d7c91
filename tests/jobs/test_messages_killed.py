"""A sender killed mid-batch loses nothing and sends nothing twice (API.md: messages are sent
at least once and recorded once). `festival jobs run send_messages` runs in a process of its
own against a gateway over HTTP that keeps messages by key and holds the 6th request
unanswered, having accepted it; the test SIGKILLs the process there, between the gateway's
acceptance and the outbox's record. New runs finish the outbox: every message is in the
gateway's record exactly once, and recorded sent once, under the gateway's id."""

from __future__ import annotations

import asyncio
import signal
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from service import keys
from service.domain import messages
from service.vocabulary import APPLICATION_DECISION, LOTTERY_RESULT
from tests.conftest import Api
from tests.support.drill import festival_day, move, real_now
from tests.support.messages import phone, rows, signed_in, sql
from tests.support.processes import FESTIVAL, ROOT, festival_env
from tests.support.sms_gateway import Gateway

MESSAGES = 12
CONCURRENCY = 4  # a pass leases four: the 6th request is in the second pass
LEASE_S = 3


async def _queue(api: Api) -> None:
    """Ten applicants' messages (phones of their own) and two to residents (their phones)."""
    for n in (1, 2):
        await signed_in(api, phone(100 + n))
    residents = await sql(api, "SELECT id FROM residents WHERE phone_enc IS NOT NULL ORDER BY id")
    async with api.client.app[keys.DB].transaction() as tx:
        for n in range(1, MESSAGES - 1):
            await messages.enqueue(
                tx,
                kind=APPLICATION_DECISION,
                dedupe_key=f"application:{n}",
                text=f"您的报名（{n}号）已通过。",
                now=api.clock.now(),
                phone=phone(n),
                cipher=api.client.app[keys.PHONES],
            )
        for r in residents:
            await messages.enqueue(
                tx,
                kind=LOTTERY_RESULT,
                dedupe_key=f"lottery:1:r:{r['id']}",
                text="很遗憾，您未中签。",
                now=api.clock.now(),
                resident_id=r["id"],
            )


async def _run(env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    with log.open("a") as out:
        return await asyncio.create_subprocess_exec(
            *FESTIVAL,
            "jobs",
            "run",
            "send_messages",
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
        )


async def test_a_sender_killed_mid_batch_loses_nothing_and_sends_nothing_twice(
    drill: Api, aiohttp_server: Any, tmp_path: Path
) -> None:
    day = festival_day(real_now(), drill) + timedelta(days=1)
    await move(drill, datetime(day.year, day.month, day.day, 10, tzinfo=drill.settings.tz))
    await _queue(drill)
    gateway = Gateway(hold_at=6)
    server = await aiohttp_server(gateway.app())
    env = festival_env(
        drill.settings.database_url,
        drill.settings.data_dir,  # the phones' key generated there
        FESTIVAL_DRILL="1",
        FESTIVAL_SMS_SENDER="tests.support.sms_gateway:factory",
        FESTIVAL_SMS_CONCURRENCY=str(CONCURRENCY),
        FESTIVAL_SMS_LEASE=str(LEASE_S),
        TEST_SMS_GATEWAY_URL=str(server.make_url("")).rstrip("/"),
    )
    log = tmp_path / "sender.log"

    sender = await _run(env, log)
    try:
        await asyncio.wait_for(gateway.holding.wait(), 90)
    finally:
        if sender.returncode is None:
            sender.send_signal(signal.SIGKILL)
    assert await sender.wait() == -signal.SIGKILL, log.read_text()
    gateway.release.set()

    # Killed: the first pass recorded; the second is recorded nowhere, though the gateway
    # accepted its held request (and those of its other three that reached it in time);
    # the rest still queued.
    statuses = [m["status"] for m in await rows(drill)]
    assert sorted(statuses) == ["queued"] * 4 + ["sending"] * 4 + ["sent"] * 4, statuses
    in_flight = {f"hyf-{m['id']}" for m in await rows(drill, "status = 'sending'")}
    assert gateway.held in in_flight
    assert {f"hyf-{m['id']}" for m in await rows(drill, "status = 'sent'")} <= set(gateway.accepted)

    # New runs finish it: the queued at once, the killed sender's once its lease runs out.
    deadline = time.monotonic() + 90
    while [m for m in await rows(drill) if m["status"] != "sent"]:
        assert time.monotonic() < deadline, log.read_text()
        run = await _run(env, log)
        assert await run.wait() == 0, log.read_text()
        await asyncio.sleep(0.5)

    outbox = await rows(drill)
    assert len(outbox) == MESSAGES
    # Every message is in the gateway's record exactly once, to its own phone…
    assert sorted(gateway.accepted) == sorted(f"hyf-{m['id']}" for m in outbox)
    for m in outbox:
        kept = gateway.accepted[f"hyf-{m['id']}"]
        assert kept["text"] == m["text"]
        assert kept["phone"][:3] + "****" + kept["phone"][-4:] == m["phone_masked"]
        # …recorded sent once, under the gateway's id for it.
        assert (m["status"], m["provider_message_id"]) == ("sent", kept["id"])
    # Only the killed pass's went twice to the gateway (the held one surely), which kept each
    # once; no other message was sent twice.
    again = {k for k in gateway.calls if gateway.calls.count(k) > 1}
    assert gateway.held in again and again <= in_flight
    assert len(gateway.calls) == MESSAGES + len(again)
    assert {m["attempts"] for m in outbox if f"hyf-{m['id']}" in in_flight} == {2}
    assert {m["attempts"] for m in outbox if f"hyf-{m['id']}" not in in_flight} == {1}
    assert "Traceback" not in log.read_text()
    assert all(phone(n) not in log.read_text() for n in range(1, MESSAGES))
