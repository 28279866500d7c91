"""Cashier accounts (收银员) as the merchant's owner manages them."""

from __future__ import annotations

from marshmallow import Schema, fields

from service.schemas.common import Instant, Text


class CashierCreate(Schema):
    name = Text(
        max_length=64,
        required=True,
        metadata={"description": "who it is, as the cashier page and redemptions show it"},
    )


class Cashier(Schema):
    id = fields.Integer(required=True)
    merchant_id = fields.Integer(required=True)
    name = fields.String(required=True)
    created_at = Instant(required=True)
    removed_at = Instant(
        required=True,
        allow_none=True,
        metadata={"description": "null: live; once set its key and tokens no longer work"},
    )


class CashierCreated(Schema):
    cashier = fields.Nested(Cashier, required=True)
    api_key = fields.String(
        required=True,
        metadata={"description": "the cashier's own api key: shown this once, stored as a hash"},
    )


class CashierList(Schema):
    items = fields.List(fields.Nested(Cashier), required=True)


class PairingCreated(Schema):
    cashier_id = fields.Integer(required=True)
    code = fields.String(
        required=True,
        metadata={"description": "8 characters, one sign-in, shown this once"},
    )
    expires_at = Instant(required=True)
    valid_for_s = fields.Integer(required=True)
    url = fields.String(
        required=True, metadata={"description": "the cashier page signing in with this code"}
    )
    qr_svg = fields.String(required=True, metadata={"description": "`url` as a QR code (SVG)"})
