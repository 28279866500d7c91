"""Cashier sign-in by pairing (issue 25): the owner makes a short code (and its QR) for one of
its cashiers; the cashier's device exchanges it, once, within 5 minutes, for that cashier's
token. Wrong codes are rate-limited like logins and never lock the owner's key login out; two
exchanges of one code racing: exactly one wins (interleaved for certain)."""

from __future__ import annotations

import asyncio
import re

from service import keys
from service.vocabulary import PAIRING_VALID_S
from tests.conftest import Api, assert_error, assert_invalid
from tests.support.checkouts import add_cashier, signed_in
from tests.support.races import holding, started, waiting

PAIR = "/api/v1/merchant/cashiers/{}/pairing"
EXCHANGE = "/api/v1/auth/cashier-pairing"
ME = "/api/v1/auth/me"


async def paired(api: Api, owner_headers: dict[str, str], cashier_id: int) -> dict:
    _, body = await api.call("POST", PAIR.format(cashier_id), headers=owner_headers, expect=201)
    return dict(body)


async def test_a_cashier_signs_in_once_with_the_owners_code(api: Api) -> None:
    owner = await api.merchant()
    cashier = (await add_cashier(api, owner, "赵六"))["cashier"]
    made = await paired(api, owner.headers, cashier["id"])
    assert re.fullmatch(r"[A-HJKMNP-Z2-9]{8}", made["code"]), made
    assert made["valid_for_s"] == PAIRING_VALID_S and made["cashier_id"] == cashier["id"]
    assert made["url"].endswith(f"/cashier#pair={made['code']}")
    assert made["qr_svg"].startswith("<svg")
    # Typed as a person types it: lower case, a dash in the middle.
    typed = f"{made['code'][:4].lower()}-{made['code'][4:].lower()}"
    _, login = await api.call(
        "POST", EXCHANGE, json={"merchant_id": owner.id, "code": typed}, expect=200
    )
    headers = {"Authorization": f"Bearer {login['access_token']}"}
    _, me = await api.call("GET", ME, headers=headers, expect=200)
    assert (me["merchant_id"], me["cashier_id"], me["cashier_name"]) == (
        owner.id,
        cashier["id"],
        "赵六",
    )
    # One use: the same code again signs nobody in.
    status, body = await api.call("POST", EXCHANGE, json={"code": made["code"]})
    assert_error(status, body, 401, "unauthorized")
    # Stored hashed: the code is nowhere in the table.
    rows = await api.client.app[keys.DB].pool.fetch("SELECT * FROM cashier_pairings")
    assert len(rows) == 1 and made["code"] not in str([dict(r) for r in rows])
    assert [a["action"] for a in await api.audit() if a["action"] == "cashier.pair"] == [
        "cashier.pair"
    ]


async def test_the_code_alone_names_the_merchant_and_expires(api: Api) -> None:
    owner, other = await api.merchant(), await api.merchant()
    cid = (await add_cashier(api, owner))["cashier"]["id"]
    first = await paired(api, owner.headers, cid)
    status, body = await api.call(
        "POST", EXCHANGE, json={"merchant_id": other.id, "code": first["code"]}
    )
    assert_error(status, body, 401, "unauthorized")  # another merchant's id: not its code
    await api.call("POST", EXCHANGE, json={"code": first["code"]}, expect=200)
    late = await paired(api, owner.headers, cid)
    api.clock.advance(seconds=PAIRING_VALID_S)
    status, body = await api.call("POST", EXCHANGE, json={"code": late["code"]})
    assert_error(status, body, 401, "unauthorized")


async def test_only_the_owner_pairs_its_own_live_cashiers(api: Api) -> None:
    owner, other = await api.merchant(), await api.merchant()
    made = await add_cashier(api, owner)
    cid = made["cashier"]["id"]
    theirs = (await add_cashier(api, other))["cashier"]["id"]
    status, body = await api.call("POST", PAIR.format(theirs), headers=owner.headers)
    assert_error(status, body, 404, "not_found")
    as_cashier = await signed_in(api, owner.id, made["api_key"])
    status, body = await api.call("POST", PAIR.format(cid), headers=as_cashier)
    assert_error(status, body, 403, "forbidden")
    status, body = await api.call("POST", PAIR.format(cid), headers=api.auth("resident"))
    assert_error(status, body, 403, "forbidden")
    # A code made before the cashier was removed signs nobody in.
    pending = await paired(api, owner.headers, cid)
    await api.call("DELETE", f"/api/v1/merchant/cashiers/{cid}", headers=owner.headers, expect=200)
    status, body = await api.call("POST", EXCHANGE, json={"code": pending["code"]})
    assert_error(status, body, 401, "unauthorized")
    status, body = await api.call("POST", PAIR.format(cid), headers=owner.headers)
    assert_error(status, body, 404, "not_found")


async def test_bad_input_is_400(api: Api) -> None:
    for body in ({}, {"code": ""}, {"code": "AB"}, {"code": "ABCD<EFG"}, {"code": 12345678}):
        assert_invalid(*await api.call("POST", EXCHANGE, json=body), "code")


async def test_guessing_codes_is_limited_and_never_locks_the_owner_out(api: Api) -> None:
    owner = await api.merchant()
    seen = []
    for _ in range(12):
        status, _ = await api.call(
            "POST", EXCHANGE, json={"merchant_id": owner.id, "code": "ZZZZZZZZ"}
        )
        seen.append(status)
    assert seen[:10] == [401] * 10 and seen[-1] == 429, seen
    # The owner's own key still signs in from the same address.
    await signed_in(api, owner.id, owner.created["api_key"])


async def test_two_exchanges_of_one_code_racing_sign_in_once(api: Api) -> None:
    owner = await api.merchant()
    cid = (await add_cashier(api, owner))["cashier"]["id"]
    made = await paired(api, owner.headers, cid)
    # The test's transaction holds the pairing's row: both exchanges queue behind it.
    async with holding(api, "SELECT 1 FROM cashier_pairings WHERE cashier_id = $1 FOR UPDATE", cid):
        tries = [started(api.call("POST", EXCHANGE, json={"code": made["code"]})) for _ in range(2)]
        await waiting(api, 2)
    results = await asyncio.gather(*tries)
    assert sorted(status for status, _ in results) == [200, 401], results
