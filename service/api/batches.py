"""Batches: the public list of offers, and their administration by the bureau."""

from __future__ import annotations

from aiohttp import web

from service import keys
from service.domain import batches
from service.http import PUBLIC, Call, Routes, json_response
from service.schemas.batches import Batch, BatchCreate, BatchListQuery, BatchPatch
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
        call.db, call.clock.now(), call.query.get("category"), call.query.get("status")
    )
    tz = call.settings.tz
    return json_response([batch_json(r, tz) for r in rows])


@routes.get("/batches/{id}", summary="One batch", response=Batch(), errors=("not_found",))
async def get_batch(call: Call) -> web.StreamResponse:
    row = await batches.get_batch(call.db, call.path_id(), call.clock.now())
    return json_response(batch_json(row, call.settings.tz))


@routes.post(
    "/admin/batches",
    roles=BUREAU,
    summary="Create a batch",
    body=BatchCreate(),
    response=Batch(),
    status=201,
    errors=("invalid_request",),
)
async def create_batch(call: Call) -> web.StreamResponse:
    row = await batches.create_batch(call.db, call.body, call.clock.now())
    return json_response(batch_json(row, call.settings.tz), 201)


@routes.patch(
    "/admin/batches/{id}",
    roles=BUREAU,
    summary="Grow or shrink quantity (not below claimed), move the end, pause or resume",
    body=BatchPatch(),
    response=Batch(),
    errors=("invalid_request", "not_found"),
)
async def patch_batch(call: Call) -> web.StreamResponse:
    row = await batches.update_batch(call.db, call.path_id(), call.body, call.clock.now())
    call.app[keys.CLAIMS].forget(row["id"])
    return json_response(batch_json(row, call.settings.tz))
