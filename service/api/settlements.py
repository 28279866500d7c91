"""Settlement lines: what the government owes each merchant, for the bureau and the merchant."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from service.csvout import table_response
from service.domain import settlements
from service.http import Call, Routes
from service.schemas.common import DayRangeQuery
from service.schemas.settlements import DayQuery, SettlementLine
from service.timefmt import business_day
from service.views.settlements import settlement_line

routes = Routes("settlement", roles=("bureau",))


@routes.get(
    "/admin/settlements",
    summary="Per-merchant settlement lines of a day (default yesterday); CSV or Excel with ?format=csv|xlsx",
    query=DayQuery(),
    table=SettlementLine(),
)
async def day_lines(call: Call) -> web.StreamResponse:
    tz = call.settings.tz
    day = call.query.get("date") or business_day(call.clock.now(), tz) - timedelta(days=1)
    lines = await settlements.lines_on_day(call.db, day)
    return await table_response(
        call, [settlement_line(r) for r in lines], f"festival-settlement-{day}"
    )


@routes.get(
    "/merchant/settlements",
    roles=("merchant",),
    summary="The caller's settlement lines between two days (default the last 31)",
    query=DayRangeQuery(),
    table=SettlementLine(),
)
async def merchant_lines(call: Call) -> web.StreamResponse:
    start, to = call.day_range(31)
    mid = call.me.merchant_id
    assert mid is not None
    rows = await settlements.merchant_lines(call.db, mid, from_day=start, to_day=to)
    return await table_response(
        call, [settlement_line(r) for r in rows], f"settlement-{mid}-{start}-{to}"
    )
