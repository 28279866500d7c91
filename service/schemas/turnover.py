"""Turnover (日结) and the recovery estimate (API.md, "Turnover and recovery")."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields

from service.credit_code import credit_code_error
from service.schemas.common import (
    Category,
    CategoryName,
    Date,
    Day,
    DayRangeQuery,
    Fen,
    FenCell,
    Instant,
    Int,
    String,
)
from service.vocabulary import MAX_DAY_FEN


class TurnoverReport(Schema):
    sales_fen = Fen(
        required=True, metadata={"description": "the whole day's takings, vouchers or not"}
    )
    transactions = Int(minimum=0, maximum=10_000_000, allow_none=True, load_default=None)


class TurnoverDay(Schema):
    date = Date(required=True)
    credit_code = fields.String(required=True)
    category = CategoryName(required=True)
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
    category = CategoryName(required=True)
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


MAX_IMPORT_ROWS = 100_000


def _credit_code(value: str) -> None:
    problem = credit_code_error(value)
    if problem:
        raise ValidationError(f"credit_code {value!r}: {problem}")


class TurnoverImportRow(Schema):
    """A line of the bureau's turnover import (`PUT /admin/turnover`, text/csv): one
    merchant's takings of a day, by its credit code. Its fields are the CSV's columns; the
    dates must fall in `years` (the baseline year and the festival's)."""

    date = Day(
        cell=True,
        required=True,
        error_messages={"invalid": "date {input!r} is not a YYYY-MM-DD date."},
        range_error="date {input} is not between {min} and {max}.",
    )
    credit_code = String(required=True, validate=_credit_code)
    category = Category(required=True, error="category {input!r} is not one of {choices}.")
    sales_fen = FenCell(
        maximum=MAX_DAY_FEN,
        required=True,
        error="sales_fen {input!r} is not a whole, non-negative number of fen.",
    )

    def __init__(self, years: tuple[int, ...], **kw: Any) -> None:
        super().__init__(**kw)
        # The years are the bound of these dates (narrower than Day's 2000-2099).
        self.fields["date"].validators = [self._in_years]
        self.years = years

    def _in_years(self, value: Any) -> None:  # a date
        if value.year not in self.years:
            raise ValidationError(f"date {value} is outside {' and '.join(map(str, self.years))}.")
