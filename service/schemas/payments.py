"""Bank files and the bank's returns (API.md, "Money ledger": payouts and returns)."""

from __future__ import annotations

from marshmallow import Schema, fields

from service.schemas.common import Instant, QueryInt, TableQuery
from service.vocabulary import LEFT_OUT_REASONS


class ExportRequest(Schema):
    """Nothing to choose: an export pays every merchant owed something and not held."""


class LeftOut(Schema):
    merchant_id = fields.Integer(required=True)
    reason = fields.String(required=True, metadata={"description": " | ".join(LEFT_OUT_REASONS)})
    balance_fen = fields.Integer(required=True)


class Export(Schema):
    id = fields.Integer(required=True)
    created_at = Instant(required=True)
    sha256 = fields.String(required=True, metadata={"description": "of the file's exact bytes"})
    rows = fields.Integer(required=True)
    total_fen = fields.Integer(required=True)
    left_out = fields.List(fields.Nested(LeftOut), required=True)


class ExportRow(Export):
    """An export as listed, with what the bank has answered of it so far."""

    created_by = fields.String(required=True)
    paid = fields.Integer(required=True)
    failed = fields.Integer(required=True)
    in_transit_fen = fields.Integer(required=True)


class ExportsQuery(TableQuery):
    limit = QueryInt(minimum=1, maximum=1000, load_default=100)


class ReturnsApplied(Schema):
    rows = fields.Integer(required=True)
    paid = fields.Integer(required=True)
    failed = fields.Integer(required=True)
    paid_fen = fields.Integer(required=True)
    failed_fen = fields.Integer(required=True)
