"""Cashiers (API.md, "Cashiers"): the merchant's owner login adds, lists and removes cashier
accounts, each with its own api key shown once and stored as a hash; a cashier signs in with it
(its token says `cashier_id`), redeems, reverses and lists, and nothing else; a removed
cashier's key and tokens stop working at once, in every process; every redemption records who
made it and the checkout's note."""

from __future__ import annotations

import csv
import hashlib
import io
import re
import uuid
from typing import Any

import asyncpg
import jwt
import pytest

from service.app import all_endpoints, create_app
from service.vocabulary import MAX_CASHIERS
from tests.conftest import REDEMPTIONS, TEST_SECRET, Api, assert_error, assert_invalid
from tests.support.checkouts import (
    CASHIERS,
    LOGIN,
    add_cashier,
    by_codes,
    cashier_of,
    post_checkout,
    signed_in,
    wallet,
)
from tests.support.tokens import claims

ME = "/api/v1/auth/me"


async def me(api: Api, headers: dict[str, str]) -> dict[str, Any]:
    _, body = await api.call("GET", ME, headers=headers, expect=200)
    return dict(body)


async def redeem(api: Api, headers: dict[str, str], code: str, **extra: Any) -> tuple[int, Any]:
    body = {"code": code, "order_amount_fen": 12_000, "order_ref": "POS-1", **extra}
    return await api.call(
        "POST", REDEMPTIONS, json=body, headers={**headers, "Idempotency-Key": uuid.uuid4().hex}
    )


# --- managing cashiers -------------------------------------------------------------------------


async def test_the_owner_adds_a_cashier_whose_key_is_shown_once_and_stored_hashed(
    api: Api,
) -> None:
    owner = await api.merchant()
    made = await add_cashier(api, owner, "收银员 张三")
    cashier, key = made["cashier"], made["api_key"]
    assert cashier == {
        "id": cashier["id"],
        "merchant_id": owner.id,
        "name": "收银员 张三",
        "created_at": "2020-05-06T10:00:00+08:00",
        "removed_at": None,
    }
    assert re.fullmatch(r"mk_[A-Za-z0-9_-]{43}", key)
    conn = await asyncpg.connect(api.settings.database_url)
    try:
        stored = await conn.fetchrow("SELECT * FROM cashiers WHERE id = $1", cashier["id"])
        everything = str(await conn.fetch("SELECT * FROM cashiers")) + str(
            await conn.fetch("SELECT * FROM audit_log")
        )
    finally:
        await conn.close()
    assert bytes(stored["api_key_hash"]) == hashlib.sha256(key.encode()).digest()
    assert key not in everything
    _, listed = await api.call("GET", CASHIERS, headers=owner.headers, expect=200)
    assert listed == {"items": [cashier]}
    (entry,) = await api.audit(action="cashier.create")
    assert entry["object"] == f"merchants/{owner.id}/cashiers/{cashier['id']}"
    assert entry["after"]["name"] == "收银员 张三" and "api_key_hash" not in entry["after"]
    # The name is a short label, as text fields are.
    for name in ("", "   ", "x" * 65, "张\u202e三", "张\x07三", 5):
        status, body = await api.call("POST", CASHIERS, json={"name": name}, headers=owner.headers)
        assert_invalid(status, body, "name", name)


async def test_a_cashier_signs_in_with_its_own_key_and_the_token_names_it(api: Api) -> None:
    owner = await api.merchant()
    made = await add_cashier(api, owner, "李四")
    cid = made["cashier"]["id"]
    _, login = await api.call(
        "POST", LOGIN, json={"merchant_id": owner.id, "api_key": made["api_key"]}, expect=200
    )
    token = login["access_token"]
    decoded = jwt.decode(token, options={"verify_signature": False})
    assert (decoded["role"], decoded["mid"], decoded["cashier_id"]) == ("merchant", owner.id, cid)
    assert await me(api, {"Authorization": f"Bearer {token}"}) == {
        "role": "merchant",
        "sub": f"merchant:{owner.id}:cashier:{cid}",
        "merchant_id": owner.id,
        "merchant_name": owner.name,
        "cashier_id": cid,
        "cashier_name": "李四",
    }
    # The owner's own key still signs the owner in (no cashier in its token); both read the
    # shop's name, which the cashier page's header shows.
    owner_key = owner.created["api_key"]
    owner_token = await signed_in(api, owner.id, owner_key)
    owners = await me(api, owner_token)
    assert "cashier_id" not in owners and owners["merchant_name"] == owner.name
    # A cashier's key under another merchant's id signs nobody in.
    other = await api.merchant()
    status, body = await api.call(
        "POST", LOGIN, json={"merchant_id": other.id, "api_key": made["api_key"]}
    )
    assert_error(status, body, 401, "unauthorized")


async def test_a_cashier_redeems_reverses_and_lists_and_each_redemption_names_it(
    api: Api,
) -> None:
    owner = await api.merchant()
    cid, cashier = await cashier_of(api, owner, "王五")
    batch = await api.create_batch()
    code = await api.claimed(batch["id"])
    _, preview = await api.call(
        "GET", f"/api/v1/merchant/vouchers/{code}", headers=cashier, expect=200
    )
    assert preview["redeemable"] is True
    note = "槐荫店\n收银台 2\t小票号 00012"
    status, made = await redeem(api, cashier, code, metadata=note)
    assert status == 201, made
    assert (made["cashier_id"], made["cashier_name"], made["metadata"]) == (cid, "王五", note)
    # The owner sees who did it, in the list, the one, and the CSV.
    _, listed = await api.call("GET", REDEMPTIONS, headers=owner.headers, expect=200)
    assert listed["items"] == [made]
    _, one = await api.call("GET", f"{REDEMPTIONS}/{made['id']}", headers=owner.headers, expect=200)
    assert one == made
    status, text = await api.call(
        "GET", REDEMPTIONS, params={"format": "csv"}, headers=owner.headers
    )
    (row,) = list(csv.DictReader(io.StringIO(text)))
    assert (row["cashier_id"], row["cashier_name"], row["metadata"]) == (str(cid), "王五", note)
    # The cashier lists and reverses too; the owner's redemptions name no cashier.
    _, mine = await api.call("GET", REDEMPTIONS, headers=cashier, expect=200)
    assert mine["items"] == [made]
    _, reversed_ = await api.call(
        "POST",
        f"{REDEMPTIONS}/{made['id']}/reversal",
        json={"reason": "顾客退货"},
        headers=cashier,
        expect=200,
    )
    assert (reversed_["status"], reversed_["cashier_id"]) == ("reversed", cid)
    status, by_owner = await redeem(api, owner.headers, code)
    assert status == 201 and (by_owner["cashier_id"], by_owner["metadata"]) == (None, None)
    # A checkout of several vouchers by a cashier: every item names it.
    codes = await wallet(api, "alice", 2)
    status, checkout = await post_checkout(api, cashier, by_codes(codes, 20_000, metadata="2号台"))
    assert status == 201, checkout
    assert {(i["cashier_id"], i["metadata"]) for i in checkout["items"]} == {(cid, "2号台")}


def owner_only_endpoints() -> list[tuple[str, str]]:
    """Every merchant endpoint not open to cashiers, with a path that routes to it."""
    found = []
    for ep in all_endpoints():
        if ep.roles is not None and "merchant" in ep.roles and not ep.cashiers:
            path = re.sub(r"\{id\}", "1", ep.path).replace("{date}", "2020-05-06")
            found.append((ep.method, path))
    return found


def test_the_owners_endpoints_include_bank_and_money_details_and_cashier_management() -> None:
    owner_only = owner_only_endpoints()
    for expected in (
        ("GET", "/api/v1/merchant/statement"),
        ("GET", "/api/v1/merchant/settlements"),
        ("GET", "/api/v1/merchant/turnover"),
        ("PUT", "/api/v1/merchant/turnover/2020-05-06"),
        ("POST", "/api/v1/merchant/cashiers"),
        ("GET", "/api/v1/merchant/cashiers"),
        ("DELETE", "/api/v1/merchant/cashiers/1"),
    ):
        assert expected in owner_only
    open_to_cashiers = {
        (ep.method, ep.path) for ep in all_endpoints() if ep.cashiers and ep.roles is not None
    }
    assert open_to_cashiers == {
        ("GET", "/api/v1/auth/me"),
        ("GET", "/api/v1/merchant/vouchers/{code}"),
        ("GET", "/api/v1/merchant/checkout-preview"),
        ("POST", "/api/v1/merchant/redemptions"),
        ("GET", "/api/v1/merchant/redemptions"),
        ("GET", "/api/v1/merchant/redemptions/{id}"),
        ("POST", "/api/v1/merchant/redemptions/{id}/reversal"),
    }


@pytest.mark.parametrize(("method", "path"), owner_only_endpoints())
async def test_a_cashier_is_refused_every_owner_endpoint(api: Api, method: str, path: str) -> None:
    owner = await api.merchant()
    _, cashier = await cashier_of(api, owner)
    body = {"name": "x"} if method in ("POST", "PUT") else None
    status, answer = await api.call(method, path, headers=cashier, json=body)
    assert_error(status, answer, 403, "forbidden")
    # The owner is not refused there (whatever else it answers).
    status, _ = await api.call(method, path, headers=owner.headers, json=body)
    assert status != 403


async def test_removing_a_cashier_stops_its_key_and_tokens_at_once_in_every_process(
    api: Api, aiohttp_client: Any
) -> None:
    owner = await api.merchant()
    made = await add_cashier(api, owner, "赵六")
    cid, key = made["cashier"]["id"], made["api_key"]
    cashier = await signed_in(api, owner.id, key)
    batch = await api.create_batch(quantity=10)
    codes = [await api.claimed(batch["id"]) for _ in range(2)]
    # A second process of the service on the same database, whose token checks are warm.
    other = Api(
        await aiohttp_client(create_app(settings=api.settings, clock=api.clock, sms=api.sms)),
        api.settings,
        api.clock,
        api.sms,
    )
    for process in (api, other):
        await process.call("GET", REDEMPTIONS, headers=cashier, expect=200)
    _, removed = await api.call("DELETE", f"{CASHIERS}/{cid}", headers=owner.headers, expect=200)
    assert removed["removed_at"] == "2020-05-06T10:00:00+08:00"
    for process in (api, other):
        for method, path, body in (
            ("GET", REDEMPTIONS, None),
            ("GET", ME, None),
            ("GET", f"/api/v1/merchant/vouchers/{codes[0]}", None),
            ("POST", f"{REDEMPTIONS}/1/reversal", {"reason": "x"}),
            ("GET", "/api/v1/merchant/statement", None),  # not 403: the token is dead
        ):
            status, answer = await process.call(method, path, headers=cashier, json=body)
            assert_error(status, answer, 401, "unauthorized")
        # The redemption itself (its liveness read in the flush's own statement).
        status, answer = await redeem(process, cashier, codes[0])
        assert_error(status, answer, 401, "unauthorized")
        status, answer = await post_checkout(process, cashier, by_codes(codes, 30_000))
        assert_error(status, answer, 401, "unauthorized")
    status, answer = await api.call("POST", LOGIN, json={"merchant_id": owner.id, "api_key": key})
    assert_error(status, answer, 401, "unauthorized")
    conn = await asyncpg.connect(api.settings.database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM redemptions") == 0
        assert await conn.fetchval("SELECT count(*) FROM idempotency_keys") == 0
    finally:
        await conn.close()
    # Listed as removed; removing again answers the same; the owner redeems on.
    _, listed = await api.call("GET", CASHIERS, headers=owner.headers, expect=200)
    assert listed["items"] == [removed]
    _, again = await api.call("DELETE", f"{CASHIERS}/{cid}", headers=owner.headers, expect=200)
    assert again == removed
    assert len(await api.audit(action="cashier.remove")) == 1
    assert (await redeem(api, owner.headers, codes[0]))[0] == 201


async def test_another_merchants_cashier_is_not_found(api: Api) -> None:
    owner, other = await api.merchant(), await api.merchant()
    made = await add_cashier(api, other)
    cid = made["cashier"]["id"]
    for path in (f"{CASHIERS}/{cid}", f"{CASHIERS}/{cid + 1000}", f"{CASHIERS}/x1"):
        assert_error(*await api.call("DELETE", path, headers=owner.headers), 404, "not_found")
    _, listed = await api.call("GET", CASHIERS, headers=owner.headers, expect=200)
    assert listed == {"items": []}
    # Still live: it signs in.
    await signed_in(api, other.id, made["api_key"])


def cashier_token(**overrides: Any) -> dict[str, str]:
    payload = claims(**{"role": "merchant", "sub": "m", **overrides})
    return {"Authorization": "Bearer " + jwt.encode(payload, TEST_SECRET, algorithm="HS256")}


async def test_a_cashier_id_claim_is_verified_strictly(api: Api) -> None:
    owner, other = await api.merchant(), await api.merchant()
    mine = (await add_cashier(api, owner))["cashier"]["id"]
    theirs = (await add_cashier(api, other))["cashier"]["id"]
    status, body = await api.call("GET", ME, headers=cashier_token(mid=owner.id, cashier_id=mine))
    assert status == 200 and body["cashier_id"] == mine
    for bad in (
        {"mid": owner.id, "cashier_id": theirs},  # another merchant's cashier
        {"mid": owner.id, "cashier_id": theirs + 1000},  # none at all
        {"mid": owner.id, "cashier_id": str(mine)},
        {"mid": owner.id, "cashier_id": True},
        {"mid": owner.id, "cashier_id": float(mine)},
        {"mid": owner.id, "cashier_id": 0},
        {"mid": owner.id, "cashier_id": -1},
        {"mid": owner.id, "cashier_id": 2**63},
        {"mid": owner.id, "cashier_id": [mine]},
        {"role": "bureau", "cashier_id": mine},
        {"role": "resident", "cashier_id": mine},
    ):
        for path in (ME, REDEMPTIONS):
            status, body = await api.call("GET", path, headers=cashier_token(**bad))
            assert_error(status, body, 401, "unauthorized")
    # A null cashier_id is not an owner's token either.
    raw = claims(role="merchant", sub="m", mid=owner.id)
    raw["cashier_id"] = None
    headers = {"Authorization": "Bearer " + jwt.encode(raw, TEST_SECRET, algorithm="HS256")}
    assert_error(*await api.call("GET", ME, headers=headers), 401, "unauthorized")
    # Another merchant's cashier at the checkout: no redemption, no stored key.
    code = await api.claimed((await api.create_batch())["id"])
    status, body = await redeem(api, cashier_token(mid=owner.id, cashier_id=theirs), code)
    assert_error(status, body, 401, "unauthorized")


async def test_a_merchant_has_at_most_so_many_cashiers(api: Api) -> None:
    owner = await api.merchant()
    made = [await add_cashier(api, owner, f"收银员{i}") for i in range(MAX_CASHIERS)]
    status, body = await api.call("POST", CASHIERS, json={"name": "多一个"}, headers=owner.headers)
    assert_error(status, body, 409, "limit_reached")
    await api.call(
        "DELETE", f"{CASHIERS}/{made[0]['cashier']['id']}", headers=owner.headers, expect=200
    )
    await api.call("POST", CASHIERS, json={"name": "多一个"}, headers=owner.headers, expect=201)


async def test_the_note_is_part_of_the_request_a_key_stands_for(api: Api) -> None:
    owner = await api.merchant()
    code = await api.claimed((await api.create_batch())["id"])
    headers = {**owner.headers, "Idempotency-Key": "note-1"}
    body = {"code": code, "order_amount_fen": 12_000, "order_ref": "P", "metadata": "1号台"}
    _, first = await api.call("POST", REDEMPTIONS, json=body, headers=headers, expect=201)
    _, again = await api.call("POST", REDEMPTIONS, json=body, headers=headers, expect=201)
    assert again == first
    for other in (
        {**body, "metadata": "2号台"},
        {k: v for k, v in body.items() if k != "metadata"},
    ):
        status, answer = await api.call("POST", REDEMPTIONS, json=other, headers=headers)
        assert_error(status, answer, 409, "idempotency_key_reused")
    # A request without a note fingerprints as before notes existed (stored keys stay valid).
    from service.domain.redemptions import fingerprint

    canonical = '{"code":"' + code + '","order_amount_fen":12000,"order_ref":"P"}'
    assert fingerprint(code, 12_000, order_ref="P") == hashlib.sha256(canonical.encode()).digest()


async def test_wrong_cashier_keys_count_as_wrong_sign_ins_the_cashiers_own_do_not(
    api: Api,
) -> None:
    owner = await api.merchant()
    made = await add_cashier(api, owner)
    right = {"merchant_id": owner.id, "api_key": made["api_key"]}
    for _ in range(12):  # a shop's tills signing in from one address
        await api.call("POST", LOGIN, json=right, expect=200)
    for _ in range(10):
        status, _ = await api.call("POST", LOGIN, json={**right, "api_key": "mk_wrong"})
        assert status == 401
    assert_error(*await api.call("POST", LOGIN, json=right), 429, "rate_limited")
