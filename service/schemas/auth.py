from __future__ import annotations

from marshmallow import Schema, fields

from service.schemas.common import FullMatch, Id, String, Text

# Exactly 11 ASCII digits: no trailing newline, no full-width or other-script digits.
PHONE = FullMatch(r"1[3-9][0-9]{9}", error="Not a mainland China mobile number.")


class MerchantLogin(Schema):
    merchant_id = Id(required=True)
    api_key = Text(max_length=200, required=True)


class BureauLogin(Schema):
    username = Text(max_length=100, required=True)
    password = Text(max_length=200, required=True)


class OtpRequest(Schema):
    phone = String(required=True, validate=PHONE)


class OtpAccepted(Schema):
    expires_in = fields.Integer(required=True)
    resend_after = fields.Integer(required=True)


class ResidentLogin(Schema):
    phone = String(required=True, validate=PHONE)
    code = String(required=True, validate=FullMatch(r"[0-9]{6}", error="A 6-digit code."))


class Whoami(Schema):
    role = fields.String(required=True)
    sub = fields.String(required=True)
    merchant_id = fields.Integer(allow_none=True, required=True)
    merchant_name = fields.String(
        allow_none=True, metadata={"description": "the merchant's name (merchant role)"}
    )
    cashier_id = fields.Integer(
        allow_none=True, metadata={"description": "a cashier's token (merchant role)"}
    )
    cashier_name = fields.String(allow_none=True)


class MerchantKeyRequest(Schema):
    merchant_id = Id(required=True)
    phone = String(
        required=True, validate=PHONE, metadata={"description": "the merchant's contact phone"}
    )
    code = String(required=True, validate=FullMatch(r"[0-9]{6}", error="A 6-digit code."))


class MerchantKeyIssued(Schema):
    merchant_id = fields.Integer(required=True)
    api_key = fields.String(
        required=True, metadata={"description": "shown this once; the previous key stops working"}
    )


class PairingLogin(Schema):
    """A cashier's device signs in with the code its owner showed (配对码)."""

    code = String(
        required=True,
        validate=FullMatch(r"[A-Za-z0-9][A-Za-z0-9 -]{4,14}[A-Za-z0-9]", error="A pairing code."),
        metadata={"description": "the 8-character code (case, spaces and dashes ignored)"},
    )
    merchant_id = Id(metadata={"description": "optional: the code alone names the merchant"})
