"""Budgets per category, and recycling batches' unused stock."""

from __future__ import annotations

from marshmallow import Schema, fields

from service.schemas.common import Category, CategoryName, Id, Int
from service.vocabulary import MAX_FEN


class BudgetSet(Schema):
    category = Category(required=True)
    budget_fen = Int(minimum=0, maximum=MAX_FEN * 1000, required=True)


class BudgetLine(Schema):
    category = CategoryName(required=True)
    budget_fen = fields.Integer(
        required=True, allow_none=True, metadata={"description": "null: no limit"}
    )
    committed_fen = fields.Integer(
        required=True,
        metadata={
            "description": "active vouchers' face value + unclaimed stock of batches still open or undrawn"
        },
    )
    spent_fen = fields.Integer(
        required=True, metadata={"description": "discounts of completed redemptions"}
    )
    available_fen = fields.Integer(required=True, allow_none=True)


class RecycleRequest(Schema):
    into_batch_id = Id(required=True)


class Recycled(Schema):
    moved = fields.Integer(required=True)
    unclaimed = fields.Integer(required=True)
    expired = fields.Integer(required=True)
