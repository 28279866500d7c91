"""Budgets per category (committed, spent, available; over_budget, exact under concurrent batch
edits), recycling of closed batches' unused stock (exactly once, ledger both ways), and the
merchants' daily subsidy caps."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from service import keys
from tests.conftest import Api, assert_error
from tests.support.downloads import csv_body
from tests.support.factories import batch_body

BUDGET = "/api/v1/admin/budget"


async def set_budget(api: Api, category: str, fen: int) -> tuple[int, Any]:
    return await api.call(
        "PUT", BUDGET, json={"category": category, "budget_fen": fen}, headers=api.bureau
    )


async def budget_of(api: Api, category: str) -> dict[str, Any]:
    _, body = await api.call("GET", BUDGET, headers=api.bureau, expect=200)
    (line,) = [i for i in body["items"] if i["category"] == category]
    return line


async def post_batch(api: Api, **overrides: Any) -> tuple[int, Any]:
    return await api.call(
        "POST", "/api/v1/admin/batches", json=batch_body(api.clock, **overrides), headers=api.bureau
    )


async def claim(api: Api, batch_id: int, sub: str) -> dict[str, Any]:
    _, body = await api.call(
        "POST", f"/api/v1/batches/{batch_id}/claims", headers=api.auth("resident", sub), expect=201
    )
    return body


async def test_a_category_without_a_budget_has_no_limit(api: Api) -> None:
    line = await budget_of(api, "shopping")
    assert line == {
        "category": "shopping",
        "budget_fen": None,
        "committed_fen": 0,
        "spent_fen": 0,
        "available_fen": None,
    }
    assert (await post_batch(api, quantity=1_000_000))[0] == 201


async def test_committed_spent_and_available(api: Api) -> None:
    assert (await set_budget(api, "shopping", 1_000_000))[0] == 200
    batch = (await post_batch(api, quantity=10))[1]  # 10 × 20 yuan committed
    assert await budget_of(api, "shopping") == {
        "category": "shopping",
        "budget_fen": 1_000_000,
        "committed_fen": 20_000,
        "spent_fen": 0,
        "available_fen": 980_000,
    }
    voucher = await claim(api, batch["id"], "alice")  # claimed: still committed
    assert (await budget_of(api, "shopping"))["committed_fen"] == 20_000
    await api.redeem(await api.merchant(category="shopping"), voucher["code"], 12000, ref="P1")
    assert await budget_of(api, "shopping") == {  # spent now, no longer committed
        "category": "shopping",
        "budget_fen": 1_000_000,
        "committed_fen": 18_000,
        "spent_fen": 2_000,
        "available_fen": 980_000,
    }
    api.clock.advance(hours=11)  # the window closed: its unclaimed stock is free again
    line = await budget_of(api, "shopping")
    assert (line["committed_fen"], line["available_fen"]) == (0, 998_000)
    status, text = await api.call("GET", BUDGET + "?format=csv", headers=api.bureau)
    assert (
        status == 200
        and csv_body(text).splitlines()[0]
        == "category,budget_fen,committed_fen,spent_fen,available_fen"
    )


async def test_over_budget_refusals_change_nothing(api: Api) -> None:
    await set_budget(api, "shopping", 100_000)
    status, body = await post_batch(api, quantity=51)  # 102,000 fen
    assert_error(status, body, 409, "over_budget")
    assert body["error"]["details"]["available_fen"] == 100_000
    batch = (await post_batch(api, quantity=50))[1]
    status, body = await api.call(
        "PATCH", f"/api/v1/admin/batches/{batch['id']}", json={"quantity": 51}, headers=api.bureau
    )
    assert_error(status, body, 409, "over_budget")
    _, same = await api.call("GET", f"/api/v1/batches/{batch['id']}")
    assert same["quantity"] == 50
    assert (
        await api.call(
            "PATCH",
            f"/api/v1/admin/batches/{batch['id']}",
            json={"quantity": 40},
            headers=api.bureau,
        )
    )[0] == 200
    # A budget below what is committed is refused, and the budget stays.
    status, body = await set_budget(api, "shopping", 79_999)
    assert_error(status, body, 409, "over_budget")
    assert (await budget_of(api, "shopping"))["budget_fen"] == 100_000
    # Other categories are not limited by it.
    assert (await post_batch(api, category="dining", quantity=1000))[0] == 201


async def test_concurrent_batch_edits_never_pass_the_budget(api: Api) -> None:
    await set_budget(api, "shopping", 100_000)  # room for exactly 10 batches of 5 × 20 yuan
    answers = await asyncio.gather(
        *(post_batch(api, quantity=5, title=f"券{i}") for i in range(25))
    )
    assert sorted(s for s, _ in answers) == [201] * 10 + [409] * 15
    line = await budget_of(api, "shopping")
    assert (line["committed_fen"], line["available_fen"]) == (100_000, 0)
    # Growing two batches at once by the same room: one of them fits.
    await set_budget(api, "shopping", 110_000)
    grown = await asyncio.gather(
        *(
            api.call(
                "PATCH",
                f"/api/v1/admin/batches/{b['id']}",
                json={"quantity": 10},
                headers=api.bureau,
            )
            for _, b in [a for a in answers if a[0] == 201][:2]
        )
    )
    assert sorted(s for s, _ in grown) == [200, 409]


async def closed_batch_with_leftovers(api: Api) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A shopping batch of 10 whose window has closed: 4 claimed (1 of them expired unused)."""
    source = (await post_batch(api, quantity=10, valid_days=1))[1]
    vouchers = [await claim(api, source["id"], f"r{i}") for i in range(4)]
    return source, vouchers


async def test_recycling_moves_unclaimed_and_expired_stock_once(api: Api) -> None:
    source, _ = await closed_batch_with_leftovers(api)
    api.clock.advance(days=1, hours=1)  # the window closed, every voucher expired unused
    later = (await post_batch(api, quantity=20))[1]
    path = f"/api/v1/admin/batches/{source['id']}/recycle"
    status, moved = await api.call(
        "POST", path, json={"into_batch_id": later["id"]}, headers=api.bureau
    )
    assert (status, moved) == (200, {"moved": 10, "unclaimed": 6, "expired": 4})
    _, target = await api.call("GET", f"/api/v1/batches/{later['id']}")
    assert (target["quantity"], target["remaining"]) == (30, 30)
    _, emptied = await api.call("GET", f"/api/v1/batches/{source['id']}")
    assert (emptied["quantity"], emptied["remaining"]) == (4, 0)
    status, body = await api.call(
        "POST", path, json={"into_batch_id": later["id"]}, headers=api.bureau
    )
    assert_error(status, body, 409, "conflict")  # nothing left: the same stock never moves twice
    (entry,) = await api.audit(action="batch.recycle")
    assert entry["object"] == f"batches/{source['id']}"
    assert entry["after"] == {
        "moved": 10,
        "unclaimed": 6,
        "expired": 4,
        "into_batch_id": later["id"],
    }
    db = api.client.app[keys.DB]
    async with db.connection() as conn:
        events = await conn.raw.fetch(
            "SELECT batch_id, kind, quantity, peer_batch_id FROM batch_events ORDER BY id"
        )
    assert [tuple(e) for e in events] == [
        (source["id"], "recycled_out", -10, later["id"]),
        (later["id"], "recycled_in", 10, source["id"]),
    ]
    _, summary = await api.call("GET", "/api/v1/stats/summary", headers=api.bureau, expect=200)
    (shopping,) = [c for c in summary["categories"] if c["category"] == "shopping"]
    assert shopping["vouchers_recycled"] == 10 and summary["overall"]["vouchers_recycled"] == 10


async def test_recycling_refusals(api: Api) -> None:
    source, _ = await closed_batch_with_leftovers(api)
    later = (await post_batch(api, quantity=20))[1]
    path = f"/api/v1/admin/batches/{source['id']}/recycle"

    async def recycle_into(target: int) -> tuple[int, Any]:
        return await api.call("POST", path, json={"into_batch_id": target}, headers=api.bureau)

    status, body = await recycle_into(later["id"])  # the source is still open
    assert_error(status, body, 400, "invalid_request")
    api.clock.advance(hours=11)
    dining = (await post_batch(api, category="dining", quantity=5))[1]
    assert_error(*await recycle_into(dining["id"]), 400, "invalid_request")  # another category
    other_face = (await post_batch(api, face_value_fen=3000, min_spend_fen=10000))[1]
    assert_error(*await recycle_into(other_face["id"]), 400, "invalid_request")
    assert_error(*await recycle_into(source["id"]), 400, "invalid_request")  # into itself
    assert_error(*await recycle_into(999999), 404, "not_found")
    assert_error(*await recycle_into(later["id"]), 400, "invalid_request")  # the target closed too
    fresh = (await post_batch(api, quantity=1))[1]
    committed = (await budget_of(api, "shopping"))["committed_fen"]
    await set_budget(api, "shopping", committed + 10_000)  # room for 5 of the 6 unclaimed
    status, body = await recycle_into(fresh["id"])
    assert_error(status, body, 409, "over_budget")
    assert body["error"]["details"]["available_fen"] == 10_000
    _, unchanged = await api.call("GET", f"/api/v1/batches/{fresh['id']}")
    assert unchanged["quantity"] == 1
    await set_budget(api, "shopping", committed + 12_000)  # exactly enough
    assert (await recycle_into(fresh["id"])) == (200, {"moved": 6, "unclaimed": 6, "expired": 0})


async def test_a_merchant_never_passes_its_daily_cap(api: Api) -> None:
    shop = await api.merchant(category="shopping", daily_subsidy_cap_fen=5_000)
    merchant = shop.created["merchant"]
    assert merchant["daily_subsidy_cap_fen"] == 5_000
    mid, headers = shop.id, shop.headers
    batch = (await post_batch(api, quantity=20))[1]  # 20 yuan vouchers: two fit in 50 yuan
    codes = [(await claim(api, batch["id"], f"r{i}"))["code"] for i in range(6)]

    async def redeem(code: str) -> tuple[int, Any]:
        return await api.call(
            "POST",
            "/api/v1/merchant/redemptions",
            json={"code": code, "order_amount_fen": 12000, "order_ref": code},
            headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
        )

    answers = await asyncio.gather(*(redeem(c) for c in codes[:5]))
    assert sorted(s for s, _ in answers) == [201, 201, 409, 409, 409]
    assert {b["error"]["code"] for s, b in answers if s == 409} == {"merchant_cap_reached"}
    # A reversal makes room again; a new business day starts from nothing.
    done = [b for s, b in answers if s == 201]
    await api.call(
        "POST",
        f"/api/v1/merchant/redemptions/{done[0]['id']}/reversal",
        json={"reason": "退货"},
        headers=headers,
        expect=200,
    )
    assert (await redeem(codes[5]))[0] == 201
    api.clock.advance(days=1)
    refused = [c for (s, _), c in zip(answers, codes[:5], strict=True) if s == 409]
    assert (await redeem(refused[0]))[0] == 201
    # The bureau can lift the cap.
    _, patched = await api.call(
        "PATCH",
        f"/api/v1/admin/merchants/{mid}",
        json={"daily_subsidy_cap_fen": None},
        headers=api.bureau,
        expect=200,
    )
    assert patched["daily_subsidy_cap_fen"] is None


async def test_budget_input_is_checked(api: Api) -> None:
    for body in (
        {"category": "food", "budget_fen": 1},
        {"category": "dining", "budget_fen": -1},
        {"category": "dining", "budget_fen": 1.5},
        {"category": "dining"},
    ):
        status, answer = await api.call("PUT", BUDGET, json=body, headers=api.bureau)
        assert_error(status, answer, 400, "invalid_request")
    status, answer = await api.call("GET", BUDGET, headers=api.auth("merchant", "m", 1))
    assert_error(status, answer, 403, "forbidden")
