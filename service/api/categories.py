from __future__ import annotations

from aiohttp import web
from marshmallow import Schema, fields

from service.domain import categories
from service.http import PUBLIC, Call, Routes, json_response
from service.schemas.common import CategoryItem

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


@routes.get(
    "/about",
    summary="The festival's name and the time zone its business days are in",
    response=About(),
)
async def about(call: Call) -> web.StreamResponse:
    return json_response(
        {
            "name_zh": "春暖槐荫消费节",
            "name_en": "Spring Warmth Huaiyin Consumption Festival",
            "time_zone": call.settings.tz.key,
            "currency": "CNY",
            "baseline_year": call.settings.baseline_year,
        }
    )
