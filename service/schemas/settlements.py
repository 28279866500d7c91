"""Settlement lines: what the government owes each merchant."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from service.schemas.common import Date, Day, Instant, TableQuery
from service.vocabulary import SETTLEMENT_STATUSES


class DayQuery(TableQuery):
    date = Day()


class SettlementLine(Schema):
    merchant_id = fields.Integer(required=True)
    merchant_name = fields.String(required=True)
    date = Date(required=True)
    redemptions = fields.Integer(required=True)
    subsidy_fen = fields.Integer(required=True)
    adjustments_fen = fields.Integer(required=True)
    net_fen = fields.Integer(required=True)
    status = fields.String(
        required=True,
        validate=validate.OneOf(SETTLEMENT_STATUSES),
        metadata={
            "description": "unsettled (the day's redemptions not settled yet) or settled (moved"
            " to the merchant's payable balance: the ledger says what was paid, see"
            " /admin/ledger and the statements)"
        },
    )
    settled_at = Instant(required=True, allow_none=True)
