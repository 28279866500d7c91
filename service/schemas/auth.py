from __future__ import annotations

from marshmallow import Schema, fields, validate

from service.schemas.common import Id, Text

PHONE = validate.Regexp(r"^1[3-9]\d{9}$", error="Not a mainland China mobile number.")


class MerchantLogin(Schema):
    merchant_id = Id(required=True)
    api_key = Text(max_length=200, required=True)


class BureauLogin(Schema):
    username = Text(max_length=100, required=True)
    password = Text(max_length=200, required=True)


class OtpRequest(Schema):
    phone = fields.String(required=True, validate=PHONE)


class OtpAccepted(Schema):
    expires_in = fields.Integer(required=True)
    resend_after = fields.Integer(required=True)


class ResidentLogin(Schema):
    phone = fields.String(required=True, validate=PHONE)
    code = fields.String(
        required=True, validate=validate.Regexp(r"^\d{6}$", error="A 6-digit code.")
    )


class Whoami(Schema):
    role = fields.String(required=True)
    sub = fields.String(required=True)
    merchant_id = fields.Integer(allow_none=True, required=True)
