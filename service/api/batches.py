"""Batches: the public list of offers, and their administration by the bureau."""

from __future__ import annotations

from aiohttp import web

from service import keys
from service.domain import batches
from service.http import PUBLIC, Call, Routes, json_response
from service.schemas.batches import Batch, BatchCreate, BatchListQuery, BatchPatch
from service.schemas.budget import Recycled, RecycleRequest
from service.views.batches import batch_json

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
    tz = call.settings.tz
    return json_response([batch_json(r, tz) for r in rows])


@routes.get("/batches/{id}", summary="One batch", response=Batch(), errors=("not_found",))
async def get_batch(call: Call) -> web.StreamResponse:
    row = await batches.get_batch(call.db, call.path_id(), now=call.clock.now())
    return json_response(batch_json(row, call.settings.tz))


@routes.post(
    "/admin/batches",
    roles=BUREAU,
    summary="Create a batch",
    body=BatchCreate(),
    response=Batch(),
    status=201,
    errors=("invalid_request", "over_budget"),
)
async def create_batch(call: Call) -> web.StreamResponse:
    row = await batches.create_batch(call.context, call.body)
    return json_response(batch_json(row, call.settings.tz), 201)


@routes.post(
    "/admin/batches/{id}/recycle",
    roles=BUREAU,
    summary="Move a closed batch's unclaimed stock and unused expired vouchers into a later batch",
    body=RecycleRequest(),
    response=Recycled(),
    errors=("not_found", "conflict", "over_budget"),
)
async def recycle(call: Call) -> web.StreamResponse:
    target = call.body["into_batch_id"]
    moved = await batches.recycle(call.context, call.path_id(), target_id=target)
    call.app[keys.CLAIMS].forget(target)  # it has stock again
    return json_response(moved)


@routes.patch(
    "/admin/batches/{id}",
    roles=BUREAU,
    summary="Grow or shrink quantity (not below claimed), move the end, pause or resume",
    body=BatchPatch(),
    response=Batch(),
    errors=("invalid_request", "not_found", "over_budget"),
)
async def patch_batch(call: Call) -> web.StreamResponse:
    row = await batches.update_batch(call.context, call.path_id(), data=call.body)
    call.app[keys.CLAIMS].forget(row["id"])
    return json_response(batch_json(row, call.settings.tz))
