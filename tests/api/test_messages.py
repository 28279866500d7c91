"""Messages over HTTP: a resident's SMS preference (`/me/preferences`) and the bureau's view of
the outbox (`/admin/messages`): who may call them, what they answer, and bad input."""

from __future__ import annotations

from typing import Any

from service import keys
from service.domain import messages
from service.vocabulary import APPLICATION_DECISION
from tests.conftest import Api, assert_error, assert_invalid, assert_queries_invalid
from tests.support.applications import APPLICATIONS, PHONE, apply
from tests.support.factories import credit_code
from tests.support.lottery import ENTRIES, lottery_batch
from tests.support.messages import OUTBOX, PREFERENCES, phone, send, signed_in, sql


async def test_a_resident_reads_and_sets_the_sms_reminder_preference(api: Api) -> None:
    headers = await signed_in(api, phone(1))
    _, body = await api.call("GET", PREFERENCES, headers=headers, expect=200)
    assert body == {"sms_reminders": True, "phone": "139****0001"}
    _, body = await api.call(
        "PUT", PREFERENCES, json={"sms_reminders": False}, headers=headers, expect=200
    )
    assert body == {"sms_reminders": False, "phone": "139****0001"}
    _, body = await api.call("GET", PREFERENCES, headers=headers, expect=200)
    assert body == {"sms_reminders": False, "phone": "139****0001"}
    # An identity-platform account: no phone known, and its row is made on first use.
    city = api.auth("resident", "city-resident")
    _, body = await api.call("GET", PREFERENCES, headers=city, expect=200)
    assert body == {"sms_reminders": True, "phone": None}
    _, body = await api.call(
        "PUT", PREFERENCES, json={"sms_reminders": False}, headers=city, expect=200
    )
    assert body == {"sms_reminders": False, "phone": None}
    # Each account has its own: the first is untouched by the second, and back on.
    await api.call("PUT", PREFERENCES, json={"sms_reminders": True}, headers=headers, expect=200)
    _, body = await api.call("GET", PREFERENCES, headers=city, expect=200)
    assert body["sms_reminders"] is False


async def test_one_person_has_one_preference_across_its_accounts(api: Api) -> None:
    """An SMS account and an identity-platform account of one person (the same pid): a stop
    through either stops the person's reminders, and the platform account sees the phone."""
    from service.auth import issue_token
    from service.domain.logins import person_id

    headers = await signed_in(api, phone(1))
    pepper = api.client.app[keys.SERVER_KEYS]["phone_pepper"]
    pid = person_id(api.settings, pepper, phone=phone(1))
    token, _ = issue_token(api.settings, role="resident", sub="city-1", pid=pid)
    city = {"Authorization": f"Bearer {token}"}
    batch = await api.create_batch()
    await api.call("POST", f"/api/v1/batches/{batch['id']}/claims", headers=city, expect=201)
    _, body = await api.call("GET", PREFERENCES, headers=city, expect=200)
    assert body == {"sms_reminders": True, "phone": "139****0001"}
    await api.call("PUT", PREFERENCES, json={"sms_reminders": False}, headers=city, expect=200)
    _, body = await api.call("GET", PREFERENCES, headers=headers, expect=200)
    assert body == {"sms_reminders": False, "phone": "139****0001"}


async def test_preferences_are_the_residents_alone(api: Api) -> None:
    for method, body in (("GET", None), ("PUT", {"sms_reminders": False})):
        status, answer = await api.call(method, PREFERENCES, json=body)
        assert_error(status, answer, 401, "unauthorized")
        for role, mid in (("bureau", None), ("merchant", 1)):
            status, answer = await api.call(
                method, PREFERENCES, json=body, headers=api.auth(role, mid=mid)
            )
            assert_error(status, answer, 403, "forbidden")
        status, answer = await api.call(
            method, PREFERENCES, json=body, headers={"Authorization": "Bearer not-a-token"}
        )
        assert_error(status, answer, 401, "unauthorized")


async def test_bad_preferences_are_400_and_change_nothing(api: Api) -> None:
    headers = await signed_in(api, phone(1))
    cases: list[tuple[Any, str]] = [
        ({}, "sms_reminders"),
        ({"sms_reminders": "false"}, "sms_reminders"),
        ({"sms_reminders": 0}, "sms_reminders"),
        ({"sms_reminders": None}, "sms_reminders"),
        ({"sms_reminders": [False]}, "sms_reminders"),
        ({"sms_reminders": False, "phone": "13900000002"}, "phone"),
    ]
    for body, field in cases:
        status, answer = await api.call("PUT", PREFERENCES, json=body, headers=headers)
        assert_invalid(status, answer, field, body)
    for raw in ("{", "[]", "", '{"sms_reminders": false, "sms_reminders": true}'):
        status, answer = await api.call(
            "PUT",
            PREFERENCES,
            data=raw,
            headers={**headers, "Content-Type": "application/json"},
        )
        assert_error(status, answer, 400, "invalid_request")
    _, body = await api.call("GET", PREFERENCES, headers=headers, expect=200)
    assert body["sms_reminders"] is True


async def _outbox(api: Api) -> None:
    """Three lottery results (sent), one applicant's message (queued)."""
    lottery = await lottery_batch(api, quantity=1)
    for n in (1, 2, 3):
        headers = await signed_in(api, phone(n))
        await api.call("POST", ENTRIES.format(lottery["id"]), headers=headers, expect=201)
    api.clock.advance(hours=2)
    await api.call(
        "POST", f"/api/v1/admin/batches/{lottery['id']}/draw", headers=api.bureau, expect=200
    )
    await send(api)
    async with api.client.app[keys.DB].transaction() as tx:
        await messages.enqueue(
            tx,
            kind=APPLICATION_DECISION,
            dedupe_key="application:1",
            text="您的报名已通过。",
            now=api.clock.now(),
            phone=phone(4),
            cipher=api.client.app[keys.PHONES],
        )


async def test_the_bureau_sees_the_outbox_counted_and_masked(api: Api) -> None:
    await _outbox(api)
    _, body = await api.call("GET", OUTBOX, headers=api.bureau, expect=200)
    assert body["counts"] == {
        "total": 4,
        "by_status": {"queued": 1, "sending": 0, "sent": 3, "failed": 0, "skipped": 0},
        "by_kind": {"lottery_result": 3, "expiry_reminder": 0, "application_decision": 1},
    }
    assert body["next_before_id"] is None
    first, *rest = body["items"]  # newest first
    assert first["kind"] == "application_decision" and first["status"] == "queued"
    assert (first["phone"], first["attempts"], first["sent_at"]) == ("139****0004", 0, None)
    assert first["dedupe_key"] == "application:1"
    assert first["created_at"] == "2020-05-06T12:00:00+08:00"
    sent = {m.provider_id for m in api.sms.messages}
    assert {m["provider_message_id"] for m in rest} == sent
    assert {m["phone"] for m in rest} == {"139****0001", "139****0002", "139****0003"}
    assert all(m["status"] == "sent" and m["attempts"] == 1 for m in rest)
    for n in (1, 2, 3, 4):
        assert phone(n) not in str(body)

    # Filtered: the counts are of what the filters select.
    _, body = await api.call("GET", OUTBOX + "?status=sent", headers=api.bureau, expect=200)
    assert body["counts"]["total"] == 3 and len(body["items"]) == 3
    _, body = await api.call(
        "GET", OUTBOX + "?kind=application_decision&status=queued", headers=api.bureau, expect=200
    )
    assert [m["dedupe_key"] for m in body["items"]] == ["application:1"]
    _, body = await api.call("GET", OUTBOX + "?kind=expiry_reminder", headers=api.bureau)
    assert body["counts"]["total"] == 0 and body["items"] == []

    # Pages, newest first, by next_before_id.
    seen: list[int] = []
    query = "?limit=3"
    while True:
        _, page = await api.call("GET", OUTBOX + query, headers=api.bureau, expect=200)
        seen += [m["id"] for m in page["items"]]
        if page["next_before_id"] is None:
            break
        query = f"?limit=3&before_id={page['next_before_id']}"
    ids = [r["id"] for r in await sql(api, "SELECT id FROM messages ORDER BY id DESC")]
    assert seen == ids


async def test_the_outbox_is_the_bureaus_alone(api: Api) -> None:
    status, body = await api.call("GET", OUTBOX)
    assert_error(status, body, 401, "unauthorized")
    for role, mid in (("resident", None), ("merchant", 1)):
        status, body = await api.call("GET", OUTBOX, headers=api.auth(role, mid=mid))
        assert_error(status, body, 403, "forbidden")


async def test_bad_outbox_queries_are_400(api: Api) -> None:
    await assert_queries_invalid(
        api,
        OUTBOX,
        "?status=delivered ?status=SENT ?kind=sms ?limit=0 ?limit=1001 ?limit=x"
        " ?before_id=0 ?before_id=-1 ?before_id=١٢ ?before_id=9223372036854775808 ?page=2",
        api.bureau,
    )


async def test_an_application_decision_reaches_the_applicant_once(api: Api) -> None:
    """Queued in the review's transaction, to the application's phone (sealed), sent by the
    job; a second review changes nothing; a long rejection note is cut to one SMS."""
    _, first = await apply(api)
    _, second = await apply(api, contact_phone=phone(5), credit_code=credit_code())
    decisions = {}
    for submitted, decision, note in (
        (first, "approve", "材料齐全，同意"),
        (second, "reject", "经营地址不在槐荫区。" * 50),
    ):
        _, decisions[decision] = await api.call(
            "POST",
            f"{APPLICATIONS}/{submitted['id']}/review",
            json={"decision": decision, "note": note},
            headers=api.bureau,
            expect=200,
        )
    status, body = await api.call(
        "POST",
        f"{APPLICATIONS}/{first['id']}/review",
        json={"decision": "reject", "note": "再审"},
        headers=api.bureau,
    )
    assert_error(status, body, 409, "already_reviewed")
    queued = await sql(api, "SELECT * FROM messages ORDER BY id")
    assert [(m["kind"], m["dedupe_key"], m["phone_masked"]) for m in queued] == [
        ("application_decision", f"application:{first['id']}", "139****5678"),
        ("application_decision", f"application:{second['id']}", "139****0005"),
    ]
    assert all(m["phone_enc"] is not None and m["resident_id"] is None for m in queued)
    await send(api)
    assert [(m.phone, m.text) for m in api.sms.messages] == [
        (PHONE, decisions["approve"]["message"]),
        (phone(5), decisions["reject"]["message"][:499] + "…"),
    ]
    assert all(m["phone_enc"] is None for m in await sql(api, "SELECT * FROM messages"))
