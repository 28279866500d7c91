"""Merchant administration (bureau)."""

from __future__ import annotations

from aiohttp import web

from service.csvout import download, table_format
from service.domain import merchants
from service.errors import ErrorCode
from service.http import Call, Routes, json_response
from service.schemas.merchants import (
    Merchant,
    MerchantCreate,
    MerchantCreated,
    MerchantListQuery,
    MerchantPatch,
)
from service.views.merchants import merchant

routes = Routes("merchants (bureau)", roles=("bureau",))


@routes.post(
    "/admin/merchants",
    summary="Register a merchant; its api key is shown once",
    body=MerchantCreate(),
    response=MerchantCreated(),
    status=201,
    errors=(ErrorCode.INVALID_REQUEST, ErrorCode.CONFLICT),
)
async def create_merchant(call: Call) -> web.StreamResponse:
    row, api_key = await merchants.create_merchant(call.context, data=call.body)
    return call.answer({"merchant": merchant(row), "api_key": api_key})


@routes.get(
    "/admin/merchants",
    summary="List merchants (CSV or Excel with ?format=csv|xlsx)",
    query=MerchantListQuery(),
    response=Merchant(many=True),
    produces_csv=True,
    produces_xlsx=True,
)
async def list_merchants(call: Call) -> web.StreamResponse:
    rows = await merchants.list_merchants(
        call.db, call.query.get("category"), status=call.query.get("status")
    )
    items = call.dump([merchant(r) for r in rows])
    kind = table_format(call.request, call.query)
    if kind != "json":
        return await download(kind, items, Merchant(), "festival-merchants")
    return json_response(items)


@routes.get(
    "/admin/merchants/{id}",
    summary="One merchant",
    response=Merchant(),
    errors=(ErrorCode.NOT_FOUND,),
)
async def get_merchant(call: Call) -> web.StreamResponse:
    row = await merchants.get_merchant(call.db, call.path_id())
    return call.answer(merchant(row))


@routes.patch(
    "/admin/merchants/{id}",
    summary="Suspend or reactivate a merchant, or change its contact",
    body=MerchantPatch(),
    response=Merchant(),
    errors=(ErrorCode.INVALID_REQUEST, ErrorCode.NOT_FOUND),
)
async def patch_merchant(call: Call) -> web.StreamResponse:
    row = await merchants.update_merchant(call.context, merchant_id=call.path_id(), data=call.body)
    return call.answer(merchant(row))
