from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from service.schemas.common import (
    IDEMPOTENCY_KEY,
    CategoryName,
    Day,
    Either,
    Fen,
    Instant,
    String,
    TableQuery,
    Text,
)
from service.vocabulary import (
    CATEGORIES,
    CHECKOUT_QR_VALID_S,
    MAX_CHECKOUT_VOUCHERS,
    MAX_METADATA_LENGTH,
    REDEMPTION_STATUSES,
    VOUCHER_STATUSES,
)


class VoucherFacts(Schema):
    """What anyone handling a voucher sees of it (the cashier's preview shows no more)."""

    code = fields.String(required=True)
    category = CategoryName(required=True)
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


def _exactly_one(data: dict[str, Any], names: tuple[str, ...]) -> None:
    """Exactly one of `names` in the request (the error names those given, or the first)."""
    given = [name for name in names if name in data]
    if len(given) != 1:
        message = [f"Give exactly one of {', '.join(names)}."]
        raise ValidationError({name: message for name in given or names[:1]})


CODE = "a typed voucher code, or a scanned voucher QR string"


class RedemptionCreate(Schema):
    """One voucher by `code` (answered as a redemption), or several of one category by
    `codes` or a resident's scanned checkout `qr` (answered as a checkout): exactly one."""

    code = Text(max_length=200, metadata={"description": CODE})
    codes = fields.List(
        Text(max_length=200, metadata={"description": CODE}),
        validate=validate.Length(min=1, max=MAX_CHECKOUT_VOUCHERS),
        metadata={"description": f"1 to {MAX_CHECKOUT_VOUCHERS} vouchers of one checkout"},
    )
    qr = Text(
        max_length=400,
        metadata={
            "description": "a resident's checkout QR string (GET /me/checkout-qr), as scanned; "
            f"valid {CHECKOUT_QR_VALID_S // 60} minutes (after: 409 expired)"
        },
    )
    order_amount_fen = Fen(
        minimum=1,
        required=True,
        metadata={
            "description": "the whole order; with several vouchers at least the sum of "
            "their min_spend_fen"
        },
    )
    order_ref = Text(max_length=64, required=True)
    metadata = Text(
        max_length=MAX_METADATA_LENGTH,
        min_length=0,
        free_text=True,
        allow_none=True,
        metadata={
            "description": "the checkout's note (branch, till, receipt number): free text, tab "
            "and newline allowed; part of the request an Idempotency-Key stands for"
        },
    )

    @validates_schema
    def _one_way_to_name_vouchers(self, data: dict[str, Any], **_: object) -> None:
        _exactly_one(data, ("code", "codes", "qr"))


class Reversal(Schema):
    reason = Text(max_length=200, required=True, free_text=True)


class Redemption(Schema):
    id = fields.Integer(required=True)
    code = fields.String(required=True)
    merchant_id = fields.Integer(required=True)
    category = CategoryName(required=True)
    order_amount_fen = fields.Integer(required=True)
    discount_fen = fields.Integer(required=True)
    payable_fen = fields.Integer(required=True)
    order_ref = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(REDEMPTION_STATUSES))
    redeemed_at = Instant(required=True)
    reversed_at = Instant(required=True, allow_none=True)
    reversal_reason = fields.String(required=True, allow_none=True)
    checkout_id = fields.Integer(
        required=True,
        allow_none=True,
        metadata={
            "description": "the checkout of several vouchers this redemption is an item of (the "
            "id of its first item; reversing any item reverses them all); null: one voucher"
        },
    )
    cashier_id = fields.Integer(
        required=True, allow_none=True, metadata={"description": "null: the merchant's owner"}
    )
    cashier_name = fields.String(required=True, allow_none=True)
    metadata = fields.String(
        required=True, allow_none=True, metadata={"description": "the checkout's note"}
    )


class Checkout(Schema):
    class Meta:
        description = (
            "Several vouchers redeemed in one checkout, all or none. Each item is a redemption "
            "of its own (its own ledger transfer): its order_amount_fen is the order's share in "
            "proportion to the items' min_spend_fen (integer fen, largest remainders first, each "
            "share at least its voucher's min_spend_fen, the shares summing to the order), its "
            "payable_fen that share less its discount. The checkout's order_amount_fen is the "
            "whole order, its payable_fen the order less every discount; checkout_id is the id "
            "of its first item."
        )

    checkout_id = fields.Integer(required=True)
    items = fields.List(fields.Nested(Redemption), required=True)
    discount_fen = fields.Integer(required=True)
    order_amount_fen = fields.Integer(required=True)
    payable_fen = fields.Integer(required=True)


# POST /merchant/redemptions: a redemption (by `code`) or a checkout (by `codes` or `qr`).
RedemptionOrCheckout = Either(Redemption(), Checkout())


class RedemptionTotals(Schema):
    count = fields.Integer(required=True)
    order_amount_fen = fields.Integer(required=True)
    discount_fen = fields.Integer(required=True)


class RedemptionList(Schema):
    items = fields.List(fields.Nested(Redemption), required=True)
    totals = fields.Nested(RedemptionTotals, required=True)


class RedemptionListQuery(TableQuery):
    date = Day()
    idempotency_key = String(validate=IDEMPOTENCY_KEY)


class CodeList(String):
    """Voucher codes in a query string, separated by commas: 1 to MAX_CHECKOUT_VOUCHERS."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        text = super()._deserialize(value, attr, data, **kwargs)
        codes = [code.strip() for code in text.split(",")]
        if not 1 <= len(codes) <= MAX_CHECKOUT_VOUCHERS or not all(codes):
            raise ValidationError(
                f"1 to {MAX_CHECKOUT_VOUCHERS} voucher codes, separated by commas."
            )
        if any(len(code) > 200 for code in codes):
            raise ValidationError("A voucher code is at most 200 characters.")
        return codes


class CheckoutQrQuery(Schema):
    codes = CodeList(
        required=True,
        metadata={
            "description": f"1 to {MAX_CHECKOUT_VOUCHERS} of the caller's active vouchers of one "
            "category, separated by commas"
        },
    )


class CheckoutQr(Schema):
    qr = fields.String(
        required=True,
        metadata={"description": "the string the merchant scans (POST /merchant/redemptions qr)"},
    )
    codes = fields.List(fields.String(), required=True)
    category = fields.String(required=True, validate=validate.OneOf(CATEGORIES))
    count = fields.Integer(required=True)
    discount_fen = fields.Integer(required=True)
    min_spend_fen = fields.Integer(
        required=True, metadata={"description": "the order needed: the sum of the vouchers'"}
    )
    expires_at = Instant(required=True)
    valid_for_s = fields.Integer(required=True)
    svg = fields.String(required=True, metadata={"description": "the QR code (image/svg+xml)"})


class CheckoutPreviewQuery(Schema):
    qr = Text(max_length=400, metadata={"description": "a scanned checkout QR string"})
    codes = CodeList(metadata={"description": "typed codes, separated by commas"})

    @validates_schema
    def _one_way_to_name_vouchers(self, data: dict[str, Any], **_: object) -> None:
        _exactly_one(data, ("qr", "codes"))


class CheckoutPreview(Schema):
    items = fields.List(fields.Nested(VoucherPreview), required=True)
    count = fields.Integer(required=True)
    discount_fen = fields.Integer(required=True)
    min_spend_fen = fields.Integer(
        required=True, metadata={"description": "the order needed: the sum of the vouchers'"}
    )
    redeemable = fields.Boolean(required=True)
    reason = fields.String(metadata={"description": "the first refusal's error code"})
    reason_message = fields.String()
    reason_code = fields.String(metadata={"description": "the voucher refused"})
    qr_expires_at = Instant(required=True, allow_none=True)
