"""The drill clock (演练, API.md "Drill clock"): the bureau moves the festival's clock forward.
The endpoint exists only with FESTIVAL_DRILL."""

from __future__ import annotations

from aiohttp import web

from service.domain import drill
from service.errors import ErrorCode
from service.http import Call, Routes
from service.schemas.drill import DrillClockState, DrillMove
from service.schemas.dump import Computed

routes = Routes("drill clock (bureau)", roles=("bureau",))


@routes.post(
    "/admin/drill/clock",
    summary="Move the festival's clock forward (drill only: FESTIVAL_DRILL)",
    body=DrillMove(),
    response=DrillClockState(),
    errors=(ErrorCode.NOT_FOUND, ErrorCode.CLOCK_BACKWARDS),
    enabled_if=lambda settings: settings.drill,
)
async def move_clock(call: Call) -> web.StreamResponse:
    moved = await drill.move(call.db, call.clock, to=call.body["to"], actor=call.actor)
    return call.answer(Computed(moved, drill=True, offset_s=moved.offset.total_seconds()))
