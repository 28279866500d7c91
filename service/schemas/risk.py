"""Cash-out risk flags and their review (API.md, "Money safety")."""

from __future__ import annotations

from marshmallow import Schema, fields

from service.schemas.common import (
    Date,
    Instant,
    Named,
    OneOf,
    QueryInt,
    Shaped,
    StrictBool,
    TableQuery,
    Text,
)
from service.vocabulary import FLAG_STATUSES, MAX_ID, REVIEW_DECISIONS, RISK_RULES


class FlagQuery(TableQuery):
    status = OneOf(FLAG_STATUSES)
    merchant_id = QueryInt(minimum=1, maximum=MAX_ID)
    rule = OneOf(RISK_RULES)
    limit = QueryInt(minimum=1, maximum=5000, load_default=500)


class Flag(Schema):
    id = fields.Integer(required=True)
    merchant_id = fields.Integer(required=True)
    merchant_name = fields.String(required=True)
    rule = Named(RISK_RULES, required=True)
    date = Date(required=True, metadata={"description": "the business day flagged"})
    subject = fields.String(required=True, metadata={"description": "repeat_pair: the person"})
    score = fields.Float(required=True, metadata={"description": "how far past the threshold"})
    evidence = Shaped(
        {
            "redemption_ids": {"type": "array", "items": {"type": "integer"}},
            "redemptions": {"type": "integer"},
            "order_fen": {"type": "integer"},
            "discount_fen": {"type": "integer"},
            "person": {"type": "string"},
            "vouchers": {"type": "integer"},
            "from": {"type": "string", "format": "date"},
            "to": {"type": "string", "format": "date"},
            "hugging": {"type": "integer"},
            "reversed": {"type": "integer"},
            "share": {"type": "number"},
            "window_starts_at": {"type": "string", "format": "date-time"},
            "window_minutes": {"type": "integer"},
            "median": {"type": "number"},
            "history": {"type": "boolean"},
        },
        always=("redemption_ids",),
        required=True,
        metadata={"description": "redemption_ids, counts and amounts (fen) behind the flag"},
    )
    status = Named(FLAG_STATUSES, required=True)
    raised_at = Instant(required=True)
    reviewed_by = fields.String(required=True, allow_none=True)
    reviewed_at = Instant(required=True, allow_none=True)
    note = fields.String(required=True, allow_none=True)
    released_by = fields.String(required=True, allow_none=True)
    released_at = Instant(
        required=True,
        allow_none=True,
        metadata={"description": "a confirmed flag holds the merchant's lines until released"},
    )


class TimelineDay(Schema):
    date = Date(required=True)
    redemptions = fields.Integer(required=True)
    reversed = fields.Integer(required=True)
    discount_fen = fields.Integer(required=True)


class TimelineWindow(Schema):
    at = Instant(required=True)
    redemptions = fields.Integer(required=True)


class FlagRedemption(Schema):
    id = fields.Integer(required=True)
    redeemed_at = Instant(required=True)
    order_amount_fen = fields.Integer(required=True)
    discount_fen = fields.Integer(required=True)
    status = fields.String(required=True, metadata={"description": "completed or reversed"})
    order_ref = fields.String(
        required=True, metadata={"description": "the merchant's order number"}
    )
    voucher_code = fields.String(required=True)
    batch_id = fields.Integer(required=True)
    batch_title = fields.String(required=True)
    min_spend_fen = fields.Integer(required=True, metadata={"description": "the batch's 门槛"})


class Timeline(Schema):
    flag_id = fields.Integer(required=True)
    merchant_id = fields.Integer(required=True)
    date = Date(required=True)
    window_minutes = fields.Integer(required=True)
    days = fields.List(fields.Nested(TimelineDay), required=True)
    windows = fields.List(fields.Nested(TimelineWindow), required=True)
    redemptions = fields.List(
        fields.Nested(FlagRedemption),
        required=True,
        metadata={"description": "the orders evidence.redemption_ids names, oldest first"},
    )


class Review(Schema):
    decision = OneOf(tuple(REVIEW_DECISIONS), required=True)
    note = Text(max_length=500, required=True, free_text=True)


class Reviewed(Flag):
    pass


class Release(Schema):
    clawback = StrictBool(
        required=True,
        metadata={
            "description": "take back the flagged redemptions' subsidy from the merchant's"
            " payable balance (below 0: a receivable)"
        },
    )
    note = Text(max_length=500, required=True, free_text=True)


class Released(Schema):
    flag = fields.Nested(Flag, required=True)
    clawed_back_fen = fields.Integer(required=True)
    clawed_back_redemptions = fields.Integer(required=True)
    still_held = fields.Boolean(
        required=True,
        metadata={"description": "another confirmed flag, or a suspension, still holds it"},
    )
