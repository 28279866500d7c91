"""The bureau's numbers: daily rows, the festival to date, merchants of a day, baselines."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web
from marshmallow import Schema, ValidationError, fields, validates_schema

from service.csvout import csv_response, wants_csv
from service.domain import baselines, stats
from service.errors import DomainError
from service.http import Call, Routes, json_response
from service.schemas.common import Category, Day, OneOf
from service.timefmt import business_day

routes = Routes("stats (bureau)")
BUREAU = ("bureau",)
MAX_RANGE_DAYS = 366
FORMAT = OneOf(("json", "csv"))


class DailyQuery(Schema):
    from_ = Day(data_key="from")
    to = Day()
    category = Category()
    format = FORMAT

    @validates_schema
    def _order(self, data: dict, **_: object) -> None:
        if "from_" in data and "to" in data and data["from_"] > data["to"]:
            raise ValidationError("Must not be after to.", "from")


class MerchantsQuery(Schema):
    date = Day()
    category = Category()
    format = FORMAT


class DailyRow(Schema):
    date = fields.String(required=True)
    category = fields.String(required=True)
    vouchers_claimed = fields.Integer(required=True)
    vouchers_redeemed = fields.Integer(required=True)
    vouchers_expired = fields.Integer(required=True)
    redemptions_reversed = fields.Integer(required=True)
    subsidy_fen = fields.Integer(required=True)
    sales_fen = fields.Integer(required=True)
    leverage = fields.Float(
        required=True, allow_none=True, metadata={"description": "sales ÷ subsidy (拉动比)"}
    )
    redemption_rate = fields.Float(
        required=True,
        allow_none=True,
        metadata={"description": "redeemed ÷ claimed, cumulative since the festival start"},
    )
    unique_residents = fields.Integer(
        required=True, metadata={"description": "residents with a completed redemption that day"}
    )
    active_merchants = fields.Integer(
        required=True, metadata={"description": "merchants with a completed redemption that day"}
    )
    baseline_sales_fen = fields.Integer(required=True, allow_none=True)
    recovery_index = fields.Float(
        required=True, allow_none=True, metadata={"description": "sales ÷ baseline"}
    )
    computed_at = fields.String(required=True)


class DailyList(Schema):
    items = fields.List(fields.Nested(DailyRow), required=True)


class MerchantDayRow(Schema):
    date = fields.String(required=True)
    merchant_id = fields.Integer(required=True)
    merchant_name = fields.String(required=True)
    category = fields.String(required=True)
    vouchers_redeemed = fields.Integer(required=True)
    redemptions_reversed = fields.Integer(required=True)
    subsidy_fen = fields.Integer(required=True)
    sales_fen = fields.Integer(required=True)
    leverage = fields.Float(required=True, allow_none=True)
    unique_residents = fields.Integer(required=True)
    computed_at = fields.String(required=True)


class MerchantDayList(Schema):
    items = fields.List(fields.Nested(MerchantDayRow), required=True)


class SummaryPart(Schema):
    vouchers_claimed = fields.Integer(required=True)
    vouchers_redeemed = fields.Integer(required=True)
    vouchers_expired = fields.Integer(required=True)
    redemptions_reversed = fields.Integer(required=True)
    subsidy_fen = fields.Integer(required=True)
    sales_fen = fields.Integer(required=True)
    sales_with_baseline_fen = fields.Integer(
        required=True, metadata={"description": "sales of the days that have a baseline"}
    )
    baseline_sales_fen = fields.Integer(required=True, allow_none=True)
    leverage = fields.Float(required=True, allow_none=True)
    redemption_rate = fields.Float(required=True, allow_none=True)
    recovery_index = fields.Float(required=True, allow_none=True)


class SummaryCategory(SummaryPart):
    category = fields.String(required=True)


class Summary(Schema):
    from_ = fields.String(data_key="from", required=True, allow_none=True)
    to = fields.String(required=True, allow_none=True)
    computed_at = fields.String(required=True, allow_none=True)
    categories = fields.List(fields.Nested(SummaryCategory), required=True)
    overall = fields.Nested(SummaryPart, required=True)


class BaselinesStored(Schema):
    rows = fields.Integer(required=True)


@routes.get(
    "/stats/daily",
    roles=BUREAU,
    summary="One row per (date, category); CSV with ?format=csv",
    query=DailyQuery(),
    response=DailyList(),
    produces_csv=True,
)
async def daily(call: Call) -> web.StreamResponse:
    # Without a range: the whole festival, as far as it has been computed.
    known = await call.db.fetchrow("stats_date_range")
    assert known is not None
    to = call.query.get("to") or known["last"] or business_day(call.clock.now(), call.settings.tz)
    start = call.query.get("from_")
    if start is None:
        start = max(known["first"] or to, to - timedelta(days=MAX_RANGE_DAYS - 1))
    if (to - start).days >= MAX_RANGE_DAYS:
        raise DomainError(
            "invalid_request",
            f"at most {MAX_RANGE_DAYS} days per request",
            {"from": [f"The range may span at most {MAX_RANGE_DAYS} days."]},
        )
    rows = await call.db.fetch("stats_daily_rows", start, to, call.query.get("category"))
    items = [stats.daily_row(r, call.settings.tz) for r in rows]
    if wants_csv(call.request, call.query):
        return csv_response(items, stats.DAILY_COLUMNS, f"festival-daily-{start}-{to}.csv")
    return json_response({"items": items})


@routes.get(
    "/stats/summary",
    roles=BUREAU,
    summary="Festival to date per category and overall, today so far included",
    response=Summary(),
)
async def summary(call: Call) -> web.StreamResponse:
    rows = await call.db.fetch("stats_summary")
    return json_response(stats.summary(rows, call.settings.tz))


@routes.get(
    "/stats/merchants",
    roles=BUREAU,
    summary="Per-merchant rows for a day (default today)",
    query=MerchantsQuery(),
    response=MerchantDayList(),
    produces_csv=True,
)
async def merchants(call: Call) -> web.StreamResponse:
    day = call.query.get("date") or business_day(call.clock.now(), call.settings.tz)
    rows = await call.db.fetch("stats_merchant_rows", day, call.query.get("category"))
    items = [stats.merchant_row(r, call.settings.tz) for r in rows]
    if wants_csv(call.request, call.query):
        return csv_response(items, stats.MERCHANT_COLUMNS, f"festival-merchants-{day}.csv")
    return json_response({"items": items})


@routes.put(
    "/admin/baselines",
    roles=BUREAU,
    summary="Upload baselines as CSV (date,category,sales_fen); all rows or none",
    raw_body="text/csv",
    response=BaselinesStored(),
    errors=("invalid_request",),
)
async def put_baselines(call: Call) -> web.StreamResponse:
    raw = await call.request.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise DomainError("invalid_request", "the CSV must be UTF-8", {"lines": {}}) from None
    rows = baselines.parse(text)
    stored = await baselines.store(call.db, rows, call.clock.now())
    return json_response({"rows": stored})
