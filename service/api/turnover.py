"""Turnover (日结) in, and what the festival did for the district out (API.md, "Turnover and
recovery")."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from service.csvout import csv_response, table_response, wants_csv
from service.domain import recovery, turnover
from service.http import Call, Routes, json_response
from service.schemas.common import DayRangeQuery, check_span, columns
from service.schemas.turnover import (
    RecoveryQuery,
    RecoveryReport,
    RecoveryRow,
    TurnoverDay,
    TurnoverReport,
    TurnoverStored,
)
from service.timefmt import business_day
from service.views.turnover import recovery_json, turnover_json

routes = Routes("turnover and recovery", roles=("bureau",))


@routes.put(
    "/merchant/turnover/{date}",
    roles=("merchant",),
    summary="The caller's whole takings of a day (日结); correctable until paid out",
    body=TurnoverReport(),
    response=TurnoverDay(),
    errors=("invalid_request", "implausible", "conflict"),
)
async def report_turnover(call: Call) -> web.StreamResponse:
    mid = call.me.merchant_id
    assert mid is not None
    now = call.clock.now()
    row = await turnover.report(
        call.db,
        mid,
        day=call.path_day(),
        sales_fen=call.body["sales_fen"],
        transactions=call.body.get("transactions"),
        today=business_day(now, call.settings.tz),
        now=now,
        baseline_year=call.settings.baseline_year,
    )
    return json_response(turnover_json(row, call.settings.tz))


@routes.get(
    "/merchant/turnover",
    roles=("merchant",),
    summary="The caller's reported takings between two days (default the last 31)",
    query=DayRangeQuery(),
    table=TurnoverDay(),
)
async def my_turnover(call: Call) -> web.StreamResponse:
    mid = call.me.merchant_id
    assert mid is not None
    start, to = call.day_range(31)
    rows = await turnover.of_merchant(call.db, mid, from_day=start, to_day=to)
    items = [turnover_json(r, call.settings.tz) for r in rows]
    return table_response(call, items, f"turnover-{mid}.csv")


@routes.put(
    "/admin/turnover",
    roles=("bureau",),
    summary="Import takings as CSV (date,credit_code,category,sales_fen); all rows or none",
    raw_body="text/csv",
    response=TurnoverStored(),
    errors=("invalid_request",),
)
async def import_turnover(call: Call) -> web.StreamResponse:
    year = call.settings.baseline_year
    rows = turnover.parse(await call.csv_text(), (year, year + 1))
    stored = await turnover.store(call.context, rows)
    return json_response({"rows": stored})


@routes.get(
    "/stats/recovery",
    roles=("bureau",),
    summary="Festival merchants' recovery against comparison merchants, per day and in total,"
    " with a 95% bootstrap interval (CSV with ?format=csv)",
    query=RecoveryQuery(),
    response=RecoveryReport(),
    produces_csv=True,
)
async def recovery_report(call: Call) -> web.StreamResponse:
    year = call.settings.baseline_year
    yesterday = business_day(call.clock.now(), call.settings.tz) - timedelta(days=1)
    start, to = await recovery.default_range(
        call.db,
        year,
        tz=call.settings.tz,
        yesterday=yesterday,
        given_from=call.query.get("from_"),
        given_to=call.query.get("to"),
    )
    check_span(start, to)
    found = await recovery.compute(
        call.db, start, last=to, category=call.query.get("category"), baseline_year=year
    )
    items = [recovery_json(r) for r in found.items]
    totals = [recovery_json(r) for r in found.totals]
    if wants_csv(call.request, call.query):
        return csv_response(
            [*items, *totals], columns(RecoveryRow()), f"festival-recovery-{start}-{to}.csv"
        )
    return json_response({"items": items, "totals": totals})
