"""The money ledger's reads: balances, transfers, verify, statements (API.md, "Money ledger")."""

from __future__ import annotations

from marshmallow import Schema, fields

from service.schemas.common import (
    CategoryName,
    Date,
    DayRangeQuery,
    Instant,
    Named,
    OneOf,
    QueryInt,
)
from service.vocabulary import ACCOUNT_KINDS, MAX_ID, TRANSFER_KINDS


class BalancesQuery(Schema):
    merchant_id = QueryInt(minimum=1, maximum=MAX_ID)
    kind = OneOf(ACCOUNT_KINDS)
    negative = OneOf(("true", "false"), metadata={"description": "true: receivables only"})


class Balance(Schema):
    account = fields.String(required=True)
    kind = Named(ACCOUNT_KINDS, required=True)
    merchant_id = fields.Integer(required=True, allow_none=True)
    category = CategoryName(required=True, allow_none=True)
    bank_file_id = fields.Integer(required=True, allow_none=True)
    balance_fen = fields.Integer(required=True)


class BalanceTotals(Schema):
    sum_fen = fields.Integer(
        required=True, metadata={"description": "over the accounts listed; 0 over all of them"}
    )


class Balances(Schema):
    items = fields.List(fields.Nested(Balance), required=True)
    totals = fields.Nested(BalanceTotals, required=True)


class TransfersQuery(DayRangeQuery):
    merchant_id = QueryInt(minimum=1, maximum=MAX_ID)
    kind = OneOf(TRANSFER_KINDS)
    limit = QueryInt(minimum=1, maximum=100_000, load_default=10_000)


class Transfer(Schema):
    id = fields.Integer(required=True)
    kind = Named(TRANSFER_KINDS, required=True)
    source = fields.String(required=True)
    from_account = fields.String(required=True)
    to_account = fields.String(required=True)
    amount_fen = fields.Integer(required=True)
    at = Instant(required=True)
    business_day = Date(required=True)
    merchant_id = fields.Integer(required=True)
    category = CategoryName(required=True, allow_none=True)
    bank_file_id = fields.Integer(required=True, allow_none=True)


class Verified(Schema):
    ok = fields.Boolean(required=True)
    checks = fields.Dict(required=True)
    problems = fields.List(fields.String())


class StatementQuery(DayRangeQuery):
    pass


class StatementDay(Schema):
    date = Date(required=True)
    redemptions = fields.Integer(required=True)
    earned_fen = fields.Integer(required=True)
    reversed_fen = fields.Integer(required=True)
    clawed_back_fen = fields.Integer(required=True)
    settled_fen = fields.Integer(required=True)
    paid_out_fen = fields.Integer(required=True)
    references = fields.String(
        required=True, metadata={"description": "the day's payout references, space-separated"}
    )
    bank_paid_fen = fields.Integer(required=True)
    returned_failed_fen = fields.Integer(required=True)
    unsettled_fen = fields.Integer(
        required=True, metadata={"description": "at the day's end: earned, not yet settled"}
    )
    payable_fen = fields.Integer(
        required=True,
        metadata={"description": "the balance carried: owed to the merchant (< 0: owed back)"},
    )
