"""Turnover (日结) and the recovery estimate (API.md, "Turnover and recovery")."""

from __future__ import annotations

from marshmallow import Schema, fields

from service.schemas.common import Category, Date, DayRangeQuery, Fen, Instant, Int


class TurnoverReport(Schema):
    sales_fen = Fen(
        required=True, metadata={"description": "the whole day's takings, vouchers or not"}
    )
    transactions = Int(minimum=0, maximum=10_000_000, allow_none=True, load_default=None)


class TurnoverDay(Schema):
    date = Date(required=True)
    credit_code = fields.String(required=True)
    category = fields.String(required=True)
    sales_fen = fields.Integer(required=True)
    transactions = fields.Integer(required=True, allow_none=True)
    source = fields.String(required=True, metadata={"description": "merchant (日结) or import"})
    recorded_at = Instant(required=True)


class TurnoverStored(Schema):
    rows = fields.Integer(required=True)


class RecoveryQuery(DayRangeQuery):
    category = Category()


def _nullable(kind: type[fields.Field], description: str) -> fields.Field:
    return kind(required=True, allow_none=True, metadata={"description": description})


class RecoveryRow(Schema):
    date = _nullable(Date, "the day; null on a total over the range")
    category = fields.String(required=True)
    participants_sales_fen = _nullable(fields.Integer, "festival merchants' takings")
    participants_baseline_fen = _nullable(fields.Integer, "the same merchants on the baseline days")
    participants_index = _nullable(fields.Float, "sales ÷ baseline")
    comparison_sales_fen = _nullable(fields.Integer, "comparison merchants' takings")
    comparison_baseline_fen = _nullable(fields.Integer, "the same merchants on the baseline days")
    comparison_index = _nullable(fields.Float, "sales ÷ baseline")
    incremental_index = _nullable(
        fields.Float, "participants − comparison (difference in differences)"
    )
    incremental_sales_fen = _nullable(fields.Integer, "incremental_index × participants' baseline")
    ci_low = _nullable(fields.Float, "95% bootstrap interval of incremental_index, over merchants")
    ci_high = _nullable(fields.Float, "its upper end")
    merchants_reporting = fields.Integer(
        required=True, metadata={"description": "festival merchants with both days"}
    )
    comparison_reporting = fields.Integer(
        required=True, metadata={"description": "comparison merchants with both days"}
    )


class RecoveryReport(Schema):
    items = fields.List(fields.Nested(RecoveryRow), required=True)
    totals = fields.List(fields.Nested(RecoveryRow), required=True)
