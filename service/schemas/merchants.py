from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates, validates_schema

from service.credit_code import credit_code_error
from service.schemas.common import (
    Category,
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


class MerchantCreate(Schema):
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


class MerchantPatch(Schema):
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
    category = fields.String(required=True)
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
    created_at = Instant(required=True)
    updated_at = Instant(required=True)


class MerchantCreated(Schema):
    merchant = fields.Nested(Merchant, required=True)
    api_key = fields.String(required=True, metadata={"description": "shown this once only"})
