from __future__ import annotations

from aiohttp import web
from marshmallow import Schema, fields

from service.domain import categories
from service.http import PUBLIC, Call, Routes, json_response
from service.schemas.common import CategoryItem, Instant

routes = Routes("categories", roles=PUBLIC)


@routes.get(
    "/categories",
    summary="The four festival categories",
    response=CategoryItem(many=True),
)
async def list_categories(call: Call) -> web.StreamResponse:
    return json_response(await categories.list_categories(call.db))


class About(Schema):
    name_zh = fields.String(required=True)
    name_en = fields.String(required=True)
    time_zone = fields.String(
        required=True, metadata={"description": "IANA zone of the business day (FESTIVAL_TZ)"}
    )
    currency = fields.String(required=True, metadata={"description": "money is in fen of it"})
    baseline_year = fields.Integer(
        required=True,
        metadata={"description": "the year recovery compares with (FESTIVAL_BASELINE_YEAR)"},
    )
    drill = fields.Boolean(
        required=True,
        metadata={"description": "a drill (演练, FESTIVAL_DRILL): `now` is the drill clock's"},
    )
    now = Instant(
        required=True, metadata={"description": "the festival's clock (business time), ISO 8601"}
    )


@routes.get(
    "/about",
    summary="The festival's name, the time zone of its business days, and its clock",
    response=About(),
)
async def about(call: Call) -> web.StreamResponse:
    return call.answer(
        {
            "name_zh": "春暖槐荫消费节",
            "name_en": "Spring Warmth Huaiyin Consumption Festival",
            "time_zone": call.settings.tz.key,
            "currency": "CNY",
            "baseline_year": call.settings.baseline_year,
            "drill": call.settings.drill,
            "now": call.clock.now(),
        }
    )
