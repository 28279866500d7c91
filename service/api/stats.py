"""The bureau's numbers: daily rows, the festival to date, merchants of a day, baselines."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from service.csvout import table_response
from service.domain import baselines, recovery, stats
from service.http import Call, Routes, json_response
from service.schemas.common import MAX_RANGE_DAYS, check_span
from service.schemas.stats import (
    BaselinesStored,
    DailyQuery,
    DailyRow,
    MerchantDayRow,
    MerchantsQuery,
    Summary,
)
from service.timefmt import business_day, iso
from service.views import stats as views

routes = Routes("stats (bureau)", roles=("bureau",))


@routes.get(
    "/stats/daily",
    summary="One row per (date, category); CSV with ?format=csv",
    query=DailyQuery(),
    table=DailyRow(),
)
async def daily(call: Call) -> web.StreamResponse:
    # Without a range: the whole festival, as far as it has been computed.
    first, last = await stats.known_days(call.db)
    to = call.query.get("to") or last or business_day(call.clock.now(), call.settings.tz)
    start = call.query.get("from_")
    if start is None:
        start = max(first or to, to - timedelta(days=MAX_RANGE_DAYS - 1))
    check_span(start, to)
    rows = await stats.daily_rows(call.db, start, to_day=to, category=call.query.get("category"))
    items = [views.daily_row(r, call.settings.tz) for r in rows]
    return table_response(call, items, f"festival-daily-{start}-{to}.csv")


@routes.get(
    "/stats/summary",
    summary="Festival to date per category and overall, today so far included",
    response=Summary(),
)
async def summary(call: Call) -> web.StreamResponse:
    rows = await stats.summary_rows(call.db)
    answer = views.summary(rows, call.settings.tz)
    answer["recovery"] = [
        {**r, "computed_at": iso(r["computed_at"], call.settings.tz)}
        for r in await recovery.stored_totals(call.db)
    ]
    return json_response(answer)


@routes.get(
    "/stats/merchants",
    summary="Per-merchant rows for a day (default today)",
    query=MerchantsQuery(),
    table=MerchantDayRow(),
)
async def merchants(call: Call) -> web.StreamResponse:
    day = call.query.get("date") or business_day(call.clock.now(), call.settings.tz)
    rows = await stats.merchant_rows(call.db, day, category=call.query.get("category"))
    items = [views.merchant_row(r, call.settings.tz) for r in rows]
    return table_response(call, items, f"festival-merchants-{day}.csv")


@routes.put(
    "/admin/baselines",
    summary="Upload baselines as CSV (date,category,sales_fen); all rows or none",
    raw_body="text/csv",
    response=BaselinesStored(),
    errors=("invalid_request",),
)
async def put_baselines(call: Call) -> web.StreamResponse:
    rows = baselines.parse(await call.csv_text())
    stored = await baselines.store(call.context, rows)
    return json_response({"rows": stored})
