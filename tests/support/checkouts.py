"""Several vouchers in one checkout, and cashiers, as their tests make them: a resident's
wallet of one category, its checkout QR, a checkout posted, a cashier signed in."""

from __future__ import annotations

import uuid
from typing import Any

from service import keys
from tests.conftest import REDEMPTIONS, Api, Merchant

CHECKOUT_QR = "/api/v1/me/checkout-qr"
CASHIERS = "/api/v1/merchant/cashiers"
PREVIEW = "/api/v1/merchant/checkout-preview"
LOGIN = "/api/v1/auth/merchant"


async def wallet(api: Api, sub: str, n: int, **batch: Any) -> list[str]:
    """`n` vouchers claimed by resident `sub` from one new batch (default: shopping 满100减20)."""
    created = await api.create_batch(per_resident_limit=max(n, 1), **batch)
    codes = []
    for _ in range(n):
        _, voucher = await api.call(
            "POST",
            f"/api/v1/batches/{created['id']}/claims",
            headers=api.auth("resident", sub),
            expect=201,
        )
        codes.append(voucher["code"])
    return codes


async def checkout_qr(api: Api, sub: str, codes: list[str]) -> tuple[int, Any]:
    return await api.call(
        "GET", CHECKOUT_QR, params={"codes": ",".join(codes)}, headers=api.auth("resident", sub)
    )


async def qr_of(api: Api, sub: str, codes: list[str]) -> str:
    status, body = await checkout_qr(api, sub, codes)
    assert status == 200, body
    return str(body["qr"])


async def post_checkout(
    api: Api, headers: dict[str, str], body: dict[str, Any], key: str | None = None
) -> tuple[int, Any]:
    """A checkout posted under `key` (a fresh one if None)."""
    headers = {**headers, "Idempotency-Key": key or uuid.uuid4().hex}
    return await api.call("POST", REDEMPTIONS, json=body, headers=headers)


def by_codes(codes: list[str], order: int, ref: str = "POS-9", **extra: Any) -> dict[str, Any]:
    return {"codes": codes, "order_amount_fen": order, "order_ref": ref, **extra}


def by_qr(qr: str, order: int, ref: str = "POS-9", **extra: Any) -> dict[str, Any]:
    return {"qr": qr, "order_amount_fen": order, "order_ref": ref, **extra}


async def add_cashier(api: Api, owner: Merchant, name: str = "张三") -> dict[str, Any]:
    """A new cashier of `owner`: the answer ({cashier, api_key})."""
    _, body = await api.call(
        "POST", CASHIERS, json={"name": name}, headers=owner.headers, expect=201
    )
    return dict(body)


async def signed_in(api: Api, merchant_id: int, api_key: str) -> dict[str, str]:
    """Headers of a token got by signing in with `api_key` (the owner's or a cashier's)."""
    _, login = await api.call(
        "POST", LOGIN, json={"merchant_id": merchant_id, "api_key": api_key}, expect=200
    )
    return {"Authorization": f"Bearer {login['access_token']}"}


async def cashier_of(api: Api, owner: Merchant, name: str = "张三") -> tuple[int, dict[str, str]]:
    """A new cashier of `owner`, signed in: its id and token headers."""
    made = await add_cashier(api, owner, name)
    return made["cashier"]["id"], await signed_in(api, owner.id, made["api_key"])


async def statuses(api: Api, codes: list[str]) -> list[str]:
    """Each voucher's stored status, in the order of `codes`."""
    rows = await api.client.app[keys.DB].pool.fetch(
        "SELECT code, status FROM vouchers WHERE code = ANY($1::text[])", codes
    )
    found = {r["code"]: r["status"] for r in rows}
    return [found[code] for code in codes]


async def transfers_of(api: Api, redemption_ids: list[int]) -> list[tuple[str, str, int]]:
    """The ledger transfers caused by these redemptions: (kind, source, amount), in id order."""
    rows = await api.client.app[keys.DB].pool.fetch(
        "SELECT kind, source, amount_fen FROM transfers WHERE source = ANY($1::text[]) ORDER BY id",
        [str(i) for i in redemption_ids],
    )
    return [(r["kind"], r["source"], r["amount_fen"]) for r in rows]
