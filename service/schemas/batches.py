from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from service.schemas.common import (
    Category,
    CategoryName,
    Fen,
    Id,
    Instant,
    Int,
    OneOf,
    StrictBool,
    Text,
    When,
    require_some,
)
from service.vocabulary import BATCH_MODES, BATCH_STATUSES, FIRST_COME, LOTTERY


class BatchCreate(Schema):
    category = Category(required=True)
    title = Text(max_length=100, required=True)
    face_value_fen = Fen(minimum=1, required=True)
    min_spend_fen = Fen(required=True)
    quantity = Int(minimum=0, maximum=10_000_000, required=True)
    per_resident_limit = Int(minimum=1, maximum=100, required=True)
    claim_starts_at = When(required=True)
    claim_ends_at = When(required=True)
    valid_days = Int(minimum=1, maximum=366, required=True)
    valid_until = When(allow_none=True, load_default=None)
    merchant_ids = fields.List(Id(), validate=validate.Length(max=5000), load_default=list)
    mode = OneOf(BATCH_MODES, load_default=FIRST_COME)
    draw_at = When(
        allow_none=True,
        load_default=None,
        metadata={"description": "lottery batches: when the draw is due (≥ claim_ends_at)"},
    )

    @validates_schema
    def _consistent(self, data: dict, **_: object) -> None:
        errors: dict[str, list[str]] = {}
        if data["mode"] == LOTTERY and data["draw_at"] is None:
            errors["draw_at"] = ["A lottery batch needs its draw time."]
        elif data["mode"] == FIRST_COME and data["draw_at"] is not None:
            errors["draw_at"] = ["Only a lottery batch has a draw."]
        elif data["draw_at"] is not None and data["draw_at"] < data["claim_ends_at"]:
            errors["draw_at"] = ["Must not be before claim_ends_at (registration closes first)."]
        if data["claim_ends_at"] <= data["claim_starts_at"]:
            errors["claim_ends_at"] = ["Must be after claim_starts_at."]
        if data["min_spend_fen"] < data["face_value_fen"]:
            errors["min_spend_fen"] = ["Must be at least face_value_fen (满减)."]
        if data["valid_until"] is not None and data["valid_until"] <= data["claim_starts_at"]:
            errors["valid_until"] = ["Must be after claim_starts_at."]
        if len(set(data["merchant_ids"])) != len(data["merchant_ids"]):
            errors["merchant_ids"] = ["Must not repeat a merchant."]
        if errors:
            raise ValidationError(errors)


class BatchPatch(Schema):
    quantity = Int(minimum=0, maximum=10_000_000)
    claim_ends_at = When()
    paused = StrictBool()

    @validates_schema
    def _something(self, data: dict, **_: object) -> None:
        require_some(data, ("quantity", "claim_ends_at", "paused"))


class BatchListQuery(Schema):
    category = Category()
    status = OneOf(BATCH_STATUSES)


class Batch(Schema):
    id = fields.Integer(required=True)
    category = CategoryName(required=True)
    title = fields.String(required=True)
    face_value_fen = fields.Integer(required=True)
    min_spend_fen = fields.Integer(required=True)
    quantity = fields.Integer(required=True)
    remaining = fields.Integer(required=True)
    per_resident_limit = fields.Integer(required=True)
    claim_starts_at = Instant(required=True)
    claim_ends_at = Instant(required=True)
    valid_days = fields.Integer(required=True)
    valid_until = Instant(allow_none=True, required=True)
    status = fields.String(required=True, validate=validate.OneOf(BATCH_STATUSES))
    paused = fields.Boolean(required=True)
    merchant_ids = fields.List(fields.Integer(), required=True)
    mode = fields.String(required=True, validate=validate.OneOf(BATCH_MODES))
    draw_at = Instant(required=True, allow_none=True)
    seed_commitment = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "lottery: lowercase hex SHA-256 of the draw's secret seed"},
    )
    drawn_at = Instant(required=True, allow_none=True)
