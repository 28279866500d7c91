"""The drill clock (演练, API.md "Drill clock"): the bureau moves the festival's clock forward.
The endpoint exists only with FESTIVAL_DRILL."""

from __future__ import annotations

from aiohttp import web

from service.domain import drill
from service.http import Call, Routes, json_response
from service.schemas.drill import DrillClockState, DrillMove
from service.timefmt import iso

routes = Routes("drill clock (bureau)", roles=("bureau",))


@routes.post(
    "/admin/drill/clock",
    summary="Move the festival's clock forward (drill only: FESTIVAL_DRILL)",
    body=DrillMove(),
    response=DrillClockState(),
    errors=("not_found", "clock_backwards"),
    enabled_if=lambda settings: settings.drill,
)
async def move_clock(call: Call) -> web.StreamResponse:
    moved = await drill.move(call.db, call.clock, to=call.body["to"], actor=call.actor)
    tz = call.settings.tz
    return json_response(
        {
            "drill": True,
            "now": iso(moved.now, tz),
            "offset_s": moved.offset.total_seconds(),
            "moved_at": iso(moved.moved_at, tz),
        }
    )
