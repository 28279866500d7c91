from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates, validates_schema

from service.credit_code import credit_code_error
from service.schemas.common import (
    Category,
    CategoryName,
    Fen,
    FullMatch,
    Instant,
    OneOf,
    String,
    Text,
    require_some,
)
from service.vocabulary import FORMATS, MERCHANT_STATUSES

CONTACT_PHONE = FullMatch(
    r"1[3-9][0-9]{9}|0[0-9]{2,3}-?[0-9]{7,8}",
    error="A mobile number (13812345678) or a landline with area code (0531-88886666).",
)
ACCOUNT_NO = FullMatch(r"[0-9]{10,30}", error="A bank account number: 10 to 30 digits.")
HOURS = FullMatch(
    r"([01][0-9]|2[0-3]):[0-5][0-9]-(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)",
    error="Opening hours as HH:MM-HH:MM (09:00-21:30; 22:00-02:00 passes midnight).",
)


class Hours(String):
    """Opening hours `HH:MM-HH:MM` in the festival's time zone; a closing time not after the
    opening passes midnight (22:00-02:00), 24:00 closes at midnight; never open and closing
    at once (12:00-12:00)."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(validate=HOURS, **kw)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        text = super()._deserialize(value, attr, data, **kwargs)
        if HOURS.regex.fullmatch(text) and text[:5] == text[6:]:
            raise ValidationError("Opening and closing at the same time.")
        return text


class Degrees(fields.Float):
    """A WGS-84 coordinate in degrees within ±`limit`: a JSON number (not a string, boolean,
    NaN or infinity), kept to 6 decimals (about 0.1 m)."""

    def __init__(self, *, limit: float, **kw: Any) -> None:
        error = f"Must be a number from -{limit:g} to {limit:g}."
        super().__init__(allow_nan=False, validate=validate.Range(-limit, limit, error=error), **kw)
        self.limit = limit

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValidationError("Not a valid number.")
        if isinstance(value, int) and abs(value) > self.limit:  # float() of a huge int overflows
            raise ValidationError(f"Must be a number from -{self.limit:g} to {self.limit:g}.")
        return round(super()._deserialize(value, attr, data, **kwargs), 6)


class Place(Schema):
    """Where a merchant is, for the directory: its street (街道), position and hours."""

    street = Text(
        max_length=50, metadata={"description": "the 街道 (sub-district), e.g. 五里沟街道"}
    )
    lat = Degrees(limit=90, metadata={"description": "WGS-84 latitude, with lng"})
    lng = Degrees(limit=180, metadata={"description": "WGS-84 longitude, with lat"})
    hours = Hours(metadata={"description": "HH:MM-HH:MM, festival time; may pass midnight"})

    @validates_schema
    def _position(self, data: dict, **_: object) -> None:
        if ("lat" in data) != ("lng" in data):
            raise ValidationError("Give lat and lng together.", "lng")
        if (data.get("lat") is None) != (data.get("lng") is None):
            raise ValidationError("Remove lat and lng together.", "lng")


class MerchantCreate(Place):
    name = Text(max_length=100, required=True)
    category = Category(required=True)
    credit_code = String(required=True)
    district = Text(max_length=50, required=True)
    address = Text(max_length=200, required=True)
    contact_phone = String(required=True, validate=CONTACT_PHONE)
    daily_subsidy_cap_fen = Fen(minimum=1, allow_none=True, load_default=None)
    account_name = Text(max_length=100, metadata={"description": "the payee, with account_no"})
    account_no = String(validate=ACCOUNT_NO)

    @validates_schema
    def _account(self, data: dict, **_: object) -> None:
        if ("account_name" in data) != ("account_no" in data):
            raise ValidationError("Give account_name and account_no together.", "account_no")

    @validates("credit_code")
    def _credit_code(self, value: str, **_: object) -> None:
        problem = credit_code_error(value)
        if problem:
            raise ValidationError(problem)


class MerchantPatch(Place):
    status = OneOf(MERCHANT_STATUSES)
    name = Text(max_length=100)
    district = Text(max_length=50)
    address = Text(max_length=200)
    contact_phone = String(validate=CONTACT_PHONE)
    daily_subsidy_cap_fen = Fen(
        minimum=1, allow_none=True, metadata={"description": "null removes the cap"}
    )
    account_name = Text(max_length=100)
    account_no = String(validate=ACCOUNT_NO)
    # null removes the position or the hours
    lat = Degrees(limit=90, allow_none=True, metadata={"description": "with lng; null: none"})
    lng = Degrees(limit=180, allow_none=True, metadata={"description": "with lat; null: none"})
    hours = Hours(allow_none=True, metadata={"description": "HH:MM-HH:MM; null: unknown"})

    @validates_schema
    def _something(self, data: dict, **_: object) -> None:
        fields_ = (
            "status",
            "name",
            "district",
            "address",
            "contact_phone",
            "daily_subsidy_cap_fen",
            "account_name",
            "account_no",
            "street",
            "lat",
            "lng",
            "hours",
        )
        require_some(data, fields_)
        if ("account_name" in data) != ("account_no" in data):
            raise ValidationError("Give account_name and account_no together.", "account_no")


class MerchantListQuery(Schema):
    category = Category()
    status = OneOf(MERCHANT_STATUSES)
    format = OneOf(FORMATS)


class Merchant(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    category = CategoryName(required=True)
    credit_code = String(required=True)
    district = fields.String(required=True)
    address = fields.String(required=True)
    contact_phone = fields.String(required=True, metadata={"description": "masked: 138****5678"})
    status = fields.String(required=True, validate=validate.OneOf(MERCHANT_STATUSES))
    daily_subsidy_cap_fen = fields.Integer(
        required=True,
        allow_none=True,
        metadata={"description": "most subsidy per business day; null: no cap"},
    )
    account_name = fields.String(required=True, allow_none=True)
    account_no = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "masked (**** **** 1234) everywhere but the bank file"},
    )
    street = fields.String(required=True, allow_none=True)
    lat = fields.Float(required=True, allow_none=True)
    lng = fields.Float(required=True, allow_none=True)
    hours = fields.String(required=True, allow_none=True)
    created_at = Instant(required=True)
    updated_at = Instant(required=True)


class MerchantCreated(Schema):
    merchant = fields.Nested(Merchant, required=True)
    api_key = fields.String(required=True, metadata={"description": "shown this once only"})
