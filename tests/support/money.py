"""Helpers of the money tests: balances, bank files, returns and verify over HTTP."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

from tests.conftest import Api

BALANCES = "/api/v1/admin/ledger/balances"
VERIFY = "/api/v1/admin/ledger/verify"
EXPORTS = "/api/v1/admin/payments/exports"
RETURNS = "/api/v1/admin/payments/returns"
ACCOUNT = {"account_name": "济南某某商贸有限公司", "account_no": "6222020200112233445"}


async def with_account(api: Api, merchant_id: int, account_no: str) -> None:
    await api.call(
        "PATCH",
        f"/api/v1/admin/merchants/{merchant_id}",
        json={**ACCOUNT, "account_no": account_no},
        headers=api.bureau,
        expect=200,
    )


async def balances(api: Api, merchant_id: int) -> dict[str, int]:
    """The merchant's balances by account kind (0 where it has none)."""
    _, body = await api.call(
        "GET", BALANCES, params={"merchant_id": merchant_id}, headers=api.bureau, expect=200
    )
    found = {"unsettled": 0, "payable": 0}
    found.update({b["kind"]: b["balance_fen"] for b in body["items"]})
    return found


async def export(api: Api, key: str | None = None) -> dict[str, Any]:
    headers = {**api.bureau, "Idempotency-Key": key or uuid.uuid4().hex}
    _, body = await api.call("POST", EXPORTS, json={}, headers=headers, expect=201)
    return dict(body)


async def file_rows(api: Api, export_id: int) -> list[dict[str, str]]:
    _, text = await api.call("GET", f"{EXPORTS}/{export_id}/file", headers=api.bureau, expect=200)
    return list(csv.DictReader(io.StringIO(text)))


async def returns(api: Api, text: str) -> tuple[int, Any]:
    return await api.put_csv(RETURNS, text)


async def verified(api: Api) -> dict[str, Any]:
    """verify's answer, which must say ok."""
    status, body = await api.call("GET", VERIFY, headers=api.bureau)
    assert status == 200 and body["ok"] is True, body
    return dict(body)
