from __future__ import annotations

from marshmallow import Schema, fields, validate

from service.schemas.common import IDEMPOTENCY_KEY, Day, Fen, Instant, String, Text
from service.vocabulary import REDEMPTION_STATUSES, VOUCHER_STATUSES


class VoucherFacts(Schema):
    """What anyone handling a voucher sees of it (the cashier's preview shows no more)."""

    code = fields.String(required=True)
    category = fields.String(required=True)
    face_value_fen = fields.Integer(required=True)
    min_spend_fen = fields.Integer(required=True)
    status = fields.String(required=True, validate=validate.OneOf(VOUCHER_STATUSES))
    expires_at = Instant(required=True)


class Voucher(VoucherFacts):
    batch_id = fields.Integer(required=True)
    title = fields.String(required=True)
    claimed_at = Instant(required=True)
    redeemed_at = Instant(required=True, allow_none=True)
    qr = fields.String(required=True, metadata={"description": "the string the merchant scans"})


class VoucherPreview(VoucherFacts):
    redeemable = fields.Boolean(required=True)
    reason = fields.String(metadata={"description": "an error code, when not redeemable"})
    reason_message = fields.String()


class RedemptionCreate(Schema):
    code = Text(max_length=200, required=True, metadata={"description": "typed code or scanned qr"})
    order_amount_fen = Fen(minimum=1, required=True)
    order_ref = Text(max_length=64, required=True)


class Reversal(Schema):
    reason = Text(max_length=200, required=True, free_text=True)


class Redemption(Schema):
    id = fields.Integer(required=True)
    code = fields.String(required=True)
    merchant_id = fields.Integer(required=True)
    category = fields.String(required=True)
    order_amount_fen = fields.Integer(required=True)
    discount_fen = fields.Integer(required=True)
    payable_fen = fields.Integer(required=True)
    order_ref = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(REDEMPTION_STATUSES))
    redeemed_at = Instant(required=True)
    reversed_at = Instant(required=True, allow_none=True)
    reversal_reason = fields.String(required=True, allow_none=True)


class RedemptionTotals(Schema):
    count = fields.Integer(required=True)
    order_amount_fen = fields.Integer(required=True)
    discount_fen = fields.Integer(required=True)


class RedemptionList(Schema):
    items = fields.List(fields.Nested(Redemption), required=True)
    totals = fields.Nested(RedemptionTotals, required=True)


class RedemptionListQuery(Schema):
    date = Day()
    idempotency_key = String(validate=IDEMPOTENCY_KEY)
