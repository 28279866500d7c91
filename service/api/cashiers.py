"""Cashier accounts (收银员): the merchant's owner adds, lists and removes them. Owner only: a
cashier's token is 403 here (service/http.py), another merchant's cashier is 404."""

from __future__ import annotations

import io

import segno
from aiohttp import web

from service.domain import cashiers
from service.errors import ErrorCode
from service.http import Call, Routes
from service.schemas.cashiers import (
    Cashier,
    CashierCreate,
    CashierCreated,
    CashierList,
    PairingCreated,
)

routes = Routes("cashiers (merchant owner)", roles=("merchant",))


def _merchant_id(call: Call) -> int:
    mid = call.me.merchant_id
    assert mid is not None  # merchant tokens always carry mid (service/auth.py)
    return mid


@routes.post(
    "/merchant/cashiers",
    summary="Add a cashier account; its own api key is shown this once",
    body=CashierCreate(),
    response=CashierCreated(),
    status=201,
    errors=(ErrorCode.LIMIT_REACHED,),
)
async def add_cashier(call: Call) -> web.StreamResponse:
    row, api_key = await cashiers.add(call.context, _merchant_id(call), name=call.body["name"])
    return call.answer({"cashier": row, "api_key": api_key})


@routes.get(
    "/merchant/cashiers",
    summary="The merchant's cashier accounts, live and removed, oldest first",
    response=CashierList(),
)
async def list_cashiers(call: Call) -> web.StreamResponse:
    return call.answer({"items": await cashiers.of_merchant(call.db, _merchant_id(call))})


@routes.delete(
    "/merchant/cashiers/{id}",
    summary="Remove a cashier account: its key and tokens stop working at once",
    response=Cashier(),
    errors=(ErrorCode.NOT_FOUND,),
)
async def remove_cashier(call: Call) -> web.StreamResponse:
    row = await cashiers.remove(call.context, _merchant_id(call), cashier_id=call.path_id())
    return call.answer(row)


@routes.post(
    "/merchant/cashiers/{id}/pairing",
    summary="A short pairing code (and its QR) a cashier's device signs in with, once",
    response=PairingCreated(),
    status=201,
    errors=(ErrorCode.NOT_FOUND,),
)
async def pair_cashier(call: Call) -> web.StreamResponse:
    made = await cashiers.pair(call.context, _merchant_id(call), cashier_id=call.path_id())
    # The code rides in the fragment: it never reaches a server log or a Referer.
    url = f"{call.request.url.origin()}/cashier#pair={made['code']}"
    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="svg", scale=6, border=4, xmldecl=False)
    return call.answer(
        {**made, "url": url, "qr_svg": buffer.getvalue().decode()},
        headers={"Cache-Control": "no-store"},
    )
