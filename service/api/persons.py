"""The bureau suspends a person (every account of it) from claiming and lottery entries."""

from __future__ import annotations

from aiohttp import web

from service.csvout import table_response
from service.domain import persons
from service.http import Call, Routes
from service.schemas.common import TableQuery
from service.schemas.persons import Suspension, SuspensionSet
from service.views.persons import suspension

routes = Routes("persons (bureau)", roles=("bureau",))


@routes.get(
    "/admin/suspensions",
    summary="Suspended persons (CSV or Excel with ?format=csv|xlsx)",
    query=TableQuery(),
    table=Suspension(),
)
async def list_suspensions(call: Call) -> web.StreamResponse:
    rows = [suspension(r["person"], r) for r in await persons.suspensions(call.db)]
    return await table_response(call, rows, "festival-suspensions")


@routes.put(
    "/admin/suspensions",
    summary="Suspend a person from claims and lottery entries, or lift the suspension",
    body=SuspensionSet(),
    response=Suspension(),
)
async def put_suspension(call: Call) -> web.StreamResponse:
    person = call.body["person"]
    if not call.body["suspended"]:
        await persons.lift(call.context, person=person)
        return call.answer(suspension(person, None))
    row = await persons.suspend(call.context, person=person, reason=call.body["reason"])
    return call.answer(suspension(person, row))
