"""One person, one share (API.md, "Identity"): the city identity platform's `pid` and the SMS
login's (an HMAC of the phone under the same key) name the same person, and the per-resident
limit counts per person across accounts, whatever the concurrency."""

from __future__ import annotations

import asyncio
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.conftest import Api, assert_error
from tests.support.downloads import csv_dicts
from tests.support.lottery import ENTRIES, lottery_batch
from tests.support.persons import PHONE, claim, pid_of, platform_token, sms_token
from tests.support.tokens import claims


@pytest.mark.parametrize("limit", [1, 2])
async def test_one_person_with_two_accounts_gets_no_more_than_the_limit(
    city: tuple[Api, rsa.RSAPrivateKey], limit: int
) -> None:
    api, key = city
    batch = await api.create_batch(per_resident_limit=limit)
    sms = await sms_token(api)
    platform = platform_token(key, "city-7f3a", pid_of(PHONE))
    answers = await asyncio.gather(
        *(claim(api, batch["id"], sms if i % 2 else platform) for i in range(40))
    )
    assert sorted(s for s, _ in answers) == [201] * limit + [409] * (40 - limit)
    assert {b["error"]["code"] for s, b in answers if s == 409} == {"limit_reached"}
    # Someone else, and the same platform account without a pid, are other people.
    assert (await claim(api, batch["id"], platform_token(key, "city-9", pid_of("13900000000"))))[
        0
    ] == 201
    assert (await claim(api, batch["id"], platform_token(key, "city-nopid", None)))[0] == 201


async def test_an_sms_login_carries_its_pid(city: tuple[Api, rsa.RSAPrivateKey]) -> None:
    api, _ = city
    token = await sms_token(api)
    decoded = jwt.decode(token, options={"verify_signature": False})
    assert decoded["pid"] == pid_of(PHONE)


@pytest.mark.parametrize("pid", ["", "x\x00", 7, ["a"], "p" * 201])
async def test_a_malformed_pid_is_401(city: tuple[Api, rsa.RSAPrivateKey], pid: Any) -> None:
    api, key = city
    token = jwt.encode(claims(role="resident", sub="s", pid=pid), key, algorithm="RS256")
    status, body = await api.call(
        "GET", "/api/v1/me/vouchers", headers={"Authorization": f"Bearer {token}"}
    )
    assert_error(status, body, 401, "unauthorized")


SUSPENSIONS = "/api/v1/admin/suspensions"


async def test_a_suspended_person_can_neither_claim_nor_enter_from_any_account(
    city: tuple[Api, rsa.RSAPrivateKey],
) -> None:

    api, key = city
    batch = await api.create_batch(quantity=10)
    lottery = await lottery_batch(api)
    sms = await sms_token(api)
    platform = platform_token(key, "city-7f3a", pid_of(PHONE))
    person = f"p:{pid_of(PHONE)}"
    _, body = await api.call(
        "PUT",
        SUSPENSIONS,
        json={"person": person, "suspended": True, "reason": "套现嫌疑，待核实"},
        headers=api.bureau,
        expect=200,
    )
    assert (
        body["suspended"] is True and body["suspended_by"] == "bureau-test" and body["suspended_at"]
    )
    for token in (sms, platform):
        auth = {"Authorization": f"Bearer {token}"}
        assert_error(*await claim(api, batch["id"], token), 403, "forbidden")
        status, refused = await api.call("POST", ENTRIES.format(lottery["id"]), headers=auth)
        assert_error(status, refused, 403, "forbidden")
        assert refused["error"]["details"] == {"suspended": True}
    # Nothing was taken from the stock, nobody else is touched.
    _, same = await api.call("GET", f"/api/v1/batches/{batch['id']}")
    assert same["remaining"] == 10
    assert (await claim(api, batch["id"], platform_token(key, "city-9", "someone-else")))[0] == 201
    _, listed = await api.call("GET", SUSPENSIONS, headers=api.bureau, expect=200)
    assert [(s["person"], s["reason"]) for s in listed["items"]] == [(person, "套现嫌疑，待核实")]
    status, text = await api.call("GET", SUSPENSIONS + "?format=csv", headers=api.bureau)
    assert status == 200 and [r["person"] for r in csv_dicts(text)] == [person]
    # Lifted: the person may claim again.
    _, lifted = await api.call(
        "PUT", SUSPENSIONS, json={"person": person, "suspended": False}, headers=api.bureau
    )
    assert lifted == {
        "person": person,
        "suspended": False,
        "reason": None,
        "suspended_at": None,
        "suspended_by": None,
    }
    assert (await claim(api, batch["id"], sms))[0] == 201


@pytest.mark.parametrize(
    "body, field",
    [
        ({"person": "p:x", "suspended": True}, "reason"),
        ({"person": "x", "suspended": True, "reason": "r"}, "person"),
        ({"person": "p:" + "x" * 201, "suspended": False}, "person"),
        ({"person": "p:x", "suspended": "yes", "reason": "r"}, "suspended"),
        ({"person": "p:x", "suspended": True, "reason": "r", "until": "2020-06-01"}, "until"),
    ],
)
async def test_bad_suspensions_are_refused(api: Api, body: dict[str, Any], field: str) -> None:
    from tests.conftest import assert_invalid

    status, answer = await api.call("PUT", SUSPENSIONS, json=body, headers=api.bureau)
    assert_invalid(status, answer, field)
    _, listed = await api.call("GET", SUSPENSIONS, headers=api.bureau, expect=200)
    assert listed["items"] == []


async def test_only_the_bureau_suspends(api: Api) -> None:
    body = {"person": "r:someone", "suspended": True, "reason": "r"}
    for headers in (api.auth("resident", "someone"), api.auth("merchant", "m1", 1)):
        assert_error(
            *await api.call("PUT", SUSPENSIONS, json=body, headers=headers), 403, "forbidden"
        )
        assert_error(*await api.call("GET", SUSPENSIONS, headers=headers), 403, "forbidden")
    assert_error(*await api.call("PUT", SUSPENSIONS, json=body), 401, "unauthorized")
