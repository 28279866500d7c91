"""Settlement lines: what the government owes each merchant, for the bureau and the merchant."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from service.csvout import csv_response, wants_csv
from service.domain import stats
from service.errors import DomainError
from service.http import Call, Routes, json_response
from service.schemas.common import Day, OneOf
from service.timefmt import business_day

routes = Routes("settlement")
MAX_RANGE_DAYS = 366
FORMAT = OneOf(("json", "csv"))


class DayQuery(Schema):
    date = Day()
    format = FORMAT


class RangeQuery(Schema):
    from_ = Day(data_key="from")
    to = Day()
    format = FORMAT

    @validates_schema
    def _order(self, data: dict, **_: object) -> None:
        if "from_" in data and "to" in data and data["from_"] > data["to"]:
            raise ValidationError("Must not be after to.", "from")


class SettlementLine(Schema):
    merchant_id = fields.Integer(required=True)
    merchant_name = fields.String(required=True)
    date = fields.String(required=True)
    redemptions = fields.Integer(required=True)
    subsidy_fen = fields.Integer(required=True)
    adjustments_fen = fields.Integer(required=True)
    net_fen = fields.Integer(required=True)
    status = fields.String(required=True, validate=validate.OneOf(("settled", "pending")))
    settled_at = fields.String(required=True, allow_none=True)


class SettlementList(Schema):
    items = fields.List(fields.Nested(SettlementLine), required=True)


@routes.get(
    "/admin/settlements",
    roles=("bureau",),
    summary="Per-merchant settlement lines of a day (default yesterday); CSV with ?format=csv",
    query=DayQuery(),
    response=SettlementList(),
    produces_csv=True,
)
async def day_lines(call: Call) -> web.StreamResponse:
    tz = call.settings.tz
    day = call.query.get("date") or business_day(call.clock.now(), tz) - timedelta(days=1)
    items = [
        stats.settlement_row(r, tz) for r in await call.db.fetch("settlement_lines_on_day", day)
    ]
    if wants_csv(call.request, call.query):
        return csv_response(items, stats.SETTLEMENT_COLUMNS, f"festival-settlement-{day}.csv")
    return json_response({"items": items})


@routes.get(
    "/merchant/settlements",
    roles=("merchant",),
    summary="The caller's settlement lines between two days (default the last 31)",
    query=RangeQuery(),
    response=SettlementList(),
    produces_csv=True,
)
async def merchant_lines(call: Call) -> web.StreamResponse:
    tz = call.settings.tz
    to = call.query.get("to") or business_day(call.clock.now(), tz)
    start = call.query.get("from_") or to - timedelta(days=30)
    if (to - start).days >= MAX_RANGE_DAYS:
        raise DomainError(
            "invalid_request",
            f"at most {MAX_RANGE_DAYS} days per request",
            {"from": [f"The range may span at most {MAX_RANGE_DAYS} days."]},
        )
    mid = call.me.merchant_id
    rows = await call.db.fetch("merchant_settlement_lines", mid, start, to)
    items = [stats.settlement_row(r, tz) for r in rows]
    if wants_csv(call.request, call.query):
        return csv_response(items, stats.SETTLEMENT_COLUMNS, f"settlement-{mid}-{start}-{to}.csv")
    return json_response({"items": items})
