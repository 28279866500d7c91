"""Claims safe to retry: a claim may carry an Idempotency-Key (one per tap on the residents'
page); its answer is stored with it, so a retry after a lost answer gets the same bytes and
never a second voucher, whatever the per-resident limit."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.conftest import Api, assert_error


async def claim(api: Api, batch_id: int, key: str | None, sub: str = "alice") -> tuple[int, str]:
    headers = api.auth("resident", sub)
    if key is not None:
        headers["Idempotency-Key"] = key
    resp = await api.client.post(f"/api/v1/batches/{batch_id}/claims", headers=headers)
    return resp.status, await resp.text()


async def wallet_size(api: Api, sub: str = "alice") -> int:
    _, body = await api.call("GET", "/api/v1/me/vouchers", headers=api.auth("resident", sub))
    return len(body)


async def test_a_retry_with_the_same_key_replays_the_answer_and_claims_once(api: Api) -> None:
    batch = await api.create_batch(per_resident_limit=3)
    first = await claim(api, batch["id"], "tap-1")
    assert first[0] == 201
    for _ in range(3):
        assert await claim(api, batch["id"], "tap-1") == first  # byte for byte
    assert await wallet_size(api) == 1
    # A new tap is a new key: a second voucher, up to the limit.
    assert (await claim(api, batch["id"], "tap-2"))[0] == 201
    assert await wallet_size(api) == 2


async def test_keys_are_per_resident_and_per_batch(api: Api) -> None:
    one, two = await api.create_batch(per_resident_limit=3), await api.create_batch()
    assert (await claim(api, one["id"], "k"))[0] == 201
    assert (await claim(api, one["id"], "k", sub="bob"))[0] == 201  # bob's own key
    status, text = await claim(api, two["id"], "k")  # alice's key, another batch
    assert status == 409 and '"idempotency_key_reused"' in text
    assert await wallet_size(api) == 1


async def test_a_refused_tap_changed_nothing_and_is_judged_afresh(api: Api) -> None:
    batch = await api.create_batch(quantity=1)
    assert (await claim(api, batch["id"], "k1", sub="bob"))[0] == 201
    refused = await claim(api, batch["id"], "k2")
    assert refused[0] == 409 and '"sold_out"' in refused[1]
    await api.call(
        "PATCH",
        f"/api/v1/admin/batches/{batch['id']}",
        json={"quantity": 2},
        headers=api.bureau,
        expect=200,
    )
    won = await claim(api, batch["id"], "k2")  # the same tap once stock came back
    assert won[0] == 201
    assert await claim(api, batch["id"], "k2") == won  # and from then on, that answer
    assert await wallet_size(api) == 1


async def test_claims_without_a_key_work_as_before(api: Api) -> None:
    batch = await api.create_batch(per_resident_limit=2)
    assert (await claim(api, batch["id"], None))[0] == 201
    assert (await claim(api, batch["id"], None))[0] == 201
    status, text = await claim(api, batch["id"], None)
    assert status == 409 and '"limit_reached"' in text


@pytest.mark.parametrize("key", ["", "x" * 65, "有", "a b", "é"])
async def test_a_malformed_key_is_400(api: Api, key: str) -> None:
    batch = await api.create_batch()
    resp = await api.client.post(
        f"/api/v1/batches/{batch['id']}/claims",
        headers={**api.auth("resident", "alice"), "Idempotency-Key": key},
    )
    assert_error(resp.status, await resp.json(), 400, "invalid_request")
    assert await wallet_size(api) == 0


async def test_fifty_concurrent_taps_with_one_key_claim_once(api: Api) -> None:
    batch = await api.create_batch(per_resident_limit=5)
    answers: list[Any] = await asyncio.gather(
        *(claim(api, batch["id"], "same-tap") for _ in range(50))
    )
    assert {status for status, _ in answers} == {201}
    assert len({text for _, text in answers}) == 1
    assert await wallet_size(api) == 1
