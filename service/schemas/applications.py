"""Joining (商户报名): an application, its review, and how the bureau sees it."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates

from service.credit_code import credit_code_error
from service.schemas.auth import PHONE
from service.schemas.common import (
    Category,
    CategoryName,
    FullMatch,
    Instant,
    OneOf,
    QueryInt,
    String,
    TableQuery,
    Text,
)
from service.schemas.merchants import ACCOUNT_NO, Place
from service.vocabulary import APPLICATION_DECISIONS, APPLICATION_STATUSES


class ApplicationCreate(Place):
    name = Text(max_length=100, required=True)
    credit_code = String(
        required=True, metadata={"description": "统一社会信用代码: 18 characters, check verified"}
    )
    category = Category(required=True)
    district = Text(max_length=50, metadata={"description": "default 槐荫区"})
    address = Text(max_length=200, required=True)
    street = Text(max_length=50, required=True, metadata={"description": "the 街道"})
    contact_phone = String(
        required=True,
        validate=PHONE,
        metadata={"description": "a mobile, proved by `code`, the SMS code of POST /auth/otp"},
    )
    code = String(required=True, validate=FullMatch(r"[0-9]{6}", error="A 6-digit code."))
    account_name = Text(max_length=100, required=True, metadata={"description": "the payee"})
    account_no = String(required=True, validate=ACCOUNT_NO)

    @validates("credit_code")
    def _credit_code(self, value: str, **_: object) -> None:
        problem = credit_code_error(value)
        if problem:
            raise ValidationError(problem)


class ApplicationSubmitted(Schema):
    id = fields.Integer(required=True)
    status = fields.String(required=True, validate=validate.OneOf(APPLICATION_STATUSES))


class ApplicationQuery(TableQuery):
    status = OneOf(APPLICATION_STATUSES)
    limit = QueryInt(minimum=1, maximum=5000, load_default=500)


class Application(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    credit_code = fields.String(required=True)
    category = CategoryName(required=True)
    district = fields.String(required=True)
    address = fields.String(required=True)
    street = fields.String(required=True)
    lat = fields.Float(required=True, allow_none=True)
    lng = fields.Float(required=True, allow_none=True)
    hours = fields.String(required=True, allow_none=True)
    contact_phone = fields.String(required=True, metadata={"description": "masked: 138****5678"})
    account_name = fields.String(required=True)
    account_no = fields.String(required=True, metadata={"description": "masked: **** **** 1234"})
    status = fields.String(required=True, validate=validate.OneOf(APPLICATION_STATUSES))
    submitted_at = Instant(required=True)
    reviewed_by = fields.String(required=True, allow_none=True)
    reviewed_at = Instant(required=True, allow_none=True)
    note = fields.String(required=True, allow_none=True)
    merchant_id = fields.Integer(
        required=True, allow_none=True, metadata={"description": "the merchant an approval made"}
    )


class ApplicationReview(Schema):
    decision = OneOf(tuple(APPLICATION_DECISIONS), required=True)
    note = Text(max_length=500, required=True, free_text=True)


class ApplicationReviewed(Application):
    message = fields.String(
        required=True,
        metadata={"description": "the SMS the applicant is sent (no secret in it)"},
    )
