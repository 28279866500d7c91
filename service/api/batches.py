"""Batches: the public list of offers, and their administration by the bureau."""

from __future__ import annotations

from aiohttp import web

from service import keys
from service.domain import batches
from service.errors import ErrorCode
from service.http import PUBLIC, Call, Routes, json_response
from service.schemas.batches import Batch, BatchCreate, BatchListQuery, BatchPatch
from service.schemas.budget import Recycled, RecycleRequest

routes = Routes("batches", roles=PUBLIC)
BUREAU = ("bureau",)


@routes.get(
    "/batches",
    summary="Batches on offer, open ones first",
    query=BatchListQuery(),
    response=Batch(many=True),
)
async def list_batches(call: Call) -> web.StreamResponse:
    rows = await batches.list_batches(
        call.db,
        call.clock.now(),
        category=call.query.get("category"),
        status=call.query.get("status"),
    )
    return call.answer(rows)


@routes.get("/batches/{id}", summary="One batch", response=Batch(), errors=(ErrorCode.NOT_FOUND,))
async def get_batch(call: Call) -> web.StreamResponse:
    row = await batches.get_batch(call.db, call.path_id(), now=call.clock.now())
    return call.answer(row)


@routes.post(
    "/admin/batches",
    roles=BUREAU,
    summary="Create a batch",
    body=BatchCreate(),
    response=Batch(),
    status=201,
    errors=(ErrorCode.INVALID_REQUEST, ErrorCode.OVER_BUDGET),
)
async def create_batch(call: Call) -> web.StreamResponse:
    row = await batches.create_batch(call.context, data=call.body)
    return call.answer(row)


@routes.post(
    "/admin/batches/{id}/recycle",
    roles=BUREAU,
    summary="Move a closed batch's unclaimed stock and unused expired vouchers into a later batch",
    body=RecycleRequest(),
    response=Recycled(),
    errors=(ErrorCode.NOT_FOUND, ErrorCode.CONFLICT, ErrorCode.OVER_BUDGET),
)
async def recycle(call: Call) -> web.StreamResponse:
    target = call.body["into_batch_id"]
    moved = await batches.recycle(call.context, source_id=call.path_id(), target_id=target)
    call.app[keys.CLAIMS].forget(target)  # it has stock again
    return json_response(moved)


@routes.patch(
    "/admin/batches/{id}",
    roles=BUREAU,
    summary="Grow or shrink quantity (not below claimed), move the end, pause or resume",
    body=BatchPatch(),
    response=Batch(),
    errors=(ErrorCode.INVALID_REQUEST, ErrorCode.NOT_FOUND, ErrorCode.OVER_BUDGET),
)
async def patch_batch(call: Call) -> web.StreamResponse:
    row = await batches.update_batch(call.context, batch_id=call.path_id(), data=call.body)
    call.app[keys.CLAIMS].forget(row["id"])
    return call.answer(row)
