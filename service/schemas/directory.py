"""The public merchant directory (API.md, "Where to spend"): its query and its page."""

from __future__ import annotations

import re
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from service.schemas.common import Category, CategoryName, OneOf, QueryInt, String, Text
from service.vocabulary import DIRECTORY_LIMIT, DIRECTORY_MAX_LIMIT, MAX_ID

_NEAR = re.compile(r"(-?[0-9]{1,3}(?:\.[0-9]{1,12})?),(-?[0-9]{1,3}(?:\.[0-9]{1,12})?)", re.ASCII)


class Near(String):
    """`LAT,LNG` in WGS-84 degrees (36.6512,116.9905), read as a (lat, lng) pair."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(
            metadata={
                "description": "LAT,LNG (WGS-84 degrees): nearest first, with distance_m",
                "pattern": f"^{_NEAR.pattern}$",
                "example": "36.6512,116.9905",
            },
            **kw,
        )

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        text = super()._deserialize(value, attr, data, **kwargs)
        found = _NEAR.fullmatch(text)
        if found is None:
            raise ValidationError("LAT,LNG in degrees, e.g. 36.6512,116.9905.")
        lat, lng = float(found[1]), float(found[2])
        if not -90 <= lat <= 90:
            raise ValidationError("The latitude must be from -90 to 90.")
        if not -180 <= lng <= 180:
            raise ValidationError("The longitude must be from -180 to 180.")
        return (lat, lng)


class DirectoryQuery(Schema):
    category = Category()
    q = Text(max_length=50, metadata={"description": "part of the name"})
    street = Text(max_length=50, metadata={"description": "the 街道, exactly"})
    near = Near()
    open_now = OneOf(
        ("true", "false"),
        metadata={"description": "true: open now by their hours (festival time)"},
    )
    batch_id = QueryInt(
        minimum=1,
        maximum=MAX_ID,
        metadata={"description": "where this batch's vouchers can be used"},
    )
    limit = QueryInt(minimum=1, maximum=DIRECTORY_MAX_LIMIT, load_default=DIRECTORY_LIMIT)
    cursor = String(
        validate=validate.Length(min=1, max=600),
        metadata={"description": "the previous page's next_cursor"},
    )


class DirectoryItem(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    category = CategoryName(required=True)
    address = fields.String(required=True)
    street = fields.String(required=True, allow_none=True)
    lat = fields.Float(required=True, allow_none=True)
    lng = fields.Float(required=True, allow_none=True)
    hours = fields.String(required=True, allow_none=True)
    distance_m = fields.Integer(
        required=True,
        allow_none=True,
        metadata={"description": "metres from near (great circle); null without near or position"},
    )


class Directory(Schema):
    items = fields.List(fields.Nested(DirectoryItem), required=True)
    next_cursor = fields.String(
        required=True, allow_none=True, metadata={"description": "null on the last page"}
    )
