"""The bureau's numbers: daily rows, the festival to date, merchants of a day, baselines."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from service.csvout import download, table_format, table_response
from service.domain import baselines, recovery, stats
from service.errors import ErrorCode
from service.http import Call, Routes, json_response
from service.schemas.common import check_span
from service.schemas.stats import (
    BaselinesStored,
    DailyQuery,
    DailyRow,
    MerchantDayRow,
    MerchantsQuery,
    Summary,
    SummaryCategory,
    SummaryQuery,
    read_baselines,
)
from service.timefmt import business_day
from service.views import stats as views
from service.vocabulary import MAX_RANGE_DAYS

routes = Routes("stats (bureau)", roles=("bureau",))


@routes.get(
    "/stats/daily",
    summary="One row per (date, category); CSV or Excel with ?format=csv|xlsx",
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
    return await table_response(
        call, [views.daily_row(r) for r in rows], f"festival-daily-{start}-{to}"
    )


@routes.get(
    "/stats/summary",
    summary="Festival to date per category and overall, today so far included; its lines as"
    " CSV or Excel with ?format=csv|xlsx",
    query=SummaryQuery(),
    response=Summary(),
    produces_csv=True,
    produces_xlsx=True,
)
async def summary(call: Call) -> web.StreamResponse:
    rows = await stats.summary_rows(call.db)
    found = call.dump(views.summary(rows, await recovery.stored_totals(call.db)))
    kind = table_format(call.request, call.query)
    if kind == "json":
        return json_response(found)
    lines = [*found["categories"], {"category": "overall", **found["overall"]}]
    today = business_day(call.clock.now(), call.settings.tz)
    return await download(kind, lines, SummaryCategory(), f"festival-summary-{today}")


@routes.get(
    "/stats/merchants",
    summary="Per-merchant rows for a day (default today)",
    query=MerchantsQuery(),
    table=MerchantDayRow(),
)
async def merchants(call: Call) -> web.StreamResponse:
    day = call.query.get("date") or business_day(call.clock.now(), call.settings.tz)
    rows = await stats.merchant_rows(call.db, day, category=call.query.get("category"))
    return await table_response(
        call, [views.merchant_row(r) for r in rows], f"festival-merchants-{day}"
    )


@routes.put(
    "/admin/baselines",
    summary="Upload baselines as CSV (date,category,sales_fen); all rows or none",
    raw_body="text/csv",
    response=BaselinesStored(),
    errors=(ErrorCode.INVALID_REQUEST,),
)
async def put_baselines(call: Call) -> web.StreamResponse:
    rows = read_baselines(await call.csv_text())
    stored = await baselines.store(call.context, rows=rows)
    return json_response({"rows": stored})
