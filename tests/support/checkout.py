"""Checkouts as the hardening tests make them: a cashier, claimed codes, a redemption's body,
posted as JSON or as raw text."""

from __future__ import annotations

import uuid
from typing import Any

from tests.conftest import REDEMPTIONS, Api


async def cashier(api: Api, category: str = "shopping", **merchant: Any) -> dict[str, Any]:
    made = await api.merchant(category=category, **merchant)
    return {"id": made.id, "headers": made.headers}


async def claimed_codes(api: Api, n: int, **batch: Any) -> list[str]:
    created = await api.create_batch(quantity=n, **batch)
    return [
        await api.claimed(created["id"], f"holder-{i}-{uuid.uuid4().hex[:6]}") for i in range(n)
    ]


def checkout_body(code: str, ref: str = "POS-1", order: int = 12000) -> dict[str, Any]:
    return {"code": code, "order_amount_fen": order, "order_ref": ref}


async def post_redemption(api: Api, who: dict[str, Any], body: Any) -> tuple[int, Any]:
    headers = {**who["headers"], "Idempotency-Key": uuid.uuid4().hex}
    if isinstance(body, str):  # raw JSON text, to carry escapes json= would not write
        headers["Content-Type"] = "application/json"
        return await api.call("POST", REDEMPTIONS, data=body.encode(), headers=headers)
    return await api.call("POST", REDEMPTIONS, json=body, headers=headers)


async def redeemed_checkout(api: Api) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """A merchant, and a voucher it has redeemed (its code and the redemption)."""
    shop = await cashier(api)
    (code,) = await claimed_codes(api, 1)
    _, redemption = await api.call(
        "POST",
        REDEMPTIONS,
        json=checkout_body(code),
        headers={**shop["headers"], "Idempotency-Key": "k1"},
        expect=201,
    )
    return shop, code, redemption
