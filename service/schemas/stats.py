"""The bureau's numbers: queries and the rows the API answers (also their CSV columns)."""

from __future__ import annotations

from datetime import date

from marshmallow import Schema, fields

from service.schemas.common import (
    Category,
    CategoryName,
    Date,
    Day,
    DayRangeQuery,
    FenCell,
    Instant,
    TableQuery,
    read_rows,
    refuse_bad_lines,
)
from service.schemas.turnover import RecoveryRow
from service.vocabulary import MAX_FEN


class DailyQuery(DayRangeQuery):
    category = Category()


class SummaryQuery(TableQuery):
    pass


class MerchantsQuery(TableQuery):
    date = Day()
    category = Category()


class VoucherCounts(Schema):
    """What a day (or the festival to date) did with vouchers, in counts and fen."""

    vouchers_claimed = fields.Integer(required=True)
    vouchers_redeemed = fields.Integer(required=True)
    vouchers_expired = fields.Integer(required=True)
    redemptions_reversed = fields.Integer(required=True)
    subsidy_fen = fields.Integer(required=True)
    sales_fen = fields.Integer(required=True)


class DayAndCategory(Schema):
    date = Date(required=True)
    category = CategoryName(required=True)


# Bases' fields come first, the last base's first of all: date, category, the counts, then
# the row's own fields (the CSV's column order).
class DailyRow(VoucherCounts, DayAndCategory):
    leverage = fields.Float(
        required=True, allow_none=True, metadata={"description": "sales ÷ subsidy (拉动比)"}
    )
    redemption_rate = fields.Float(
        required=True,
        allow_none=True,
        metadata={"description": "redeemed ÷ claimed, cumulative since the festival start"},
    )
    unique_residents = fields.Integer(
        required=True, metadata={"description": "residents with a completed redemption that day"}
    )
    active_merchants = fields.Integer(
        required=True, metadata={"description": "merchants with a completed redemption that day"}
    )
    baseline_sales_fen = fields.Integer(required=True, allow_none=True)
    recovery_index = fields.Float(
        required=True, allow_none=True, metadata={"description": "sales ÷ baseline"}
    )
    computed_at = Instant(required=True)


class MerchantDayRow(Schema):
    date = Date(required=True)
    merchant_id = fields.Integer(required=True)
    merchant_name = fields.String(required=True)
    category = CategoryName(required=True)
    vouchers_redeemed = fields.Integer(required=True)
    redemptions_reversed = fields.Integer(required=True)
    subsidy_fen = fields.Integer(required=True)
    sales_fen = fields.Integer(required=True)
    leverage = fields.Float(required=True, allow_none=True)
    unique_residents = fields.Integer(required=True)
    computed_at = Instant(required=True)


class SummaryPart(VoucherCounts):
    vouchers_recycled = fields.Integer(
        required=True,
        metadata={"description": "stock of closed batches put back into later ones"},
    )
    sales_with_baseline_fen = fields.Integer(
        required=True, metadata={"description": "sales of the days that have a baseline"}
    )
    baseline_sales_fen = fields.Integer(required=True, allow_none=True)
    leverage = fields.Float(required=True, allow_none=True)
    redemption_rate = fields.Float(required=True, allow_none=True)
    recovery_index = fields.Float(required=True, allow_none=True)


class _CategoryFirst(Schema):
    category = CategoryName(required=True)


class SummaryCategory(SummaryPart, _CategoryFirst):
    """A category's line of the summary; also the rows of its download, the festival's line
    last with `category` "overall"."""


class RecoveryToDate(RecoveryRow):
    from_ = fields.String(
        data_key="from", attribute="from", required=True, metadata={"format": "date"}
    )
    to = fields.String(required=True, metadata={"format": "date"})
    computed_at = Instant(required=True)


class Summary(Schema):
    from_ = Date(data_key="from", required=True, allow_none=True)
    to = Date(required=True, allow_none=True)
    computed_at = Instant(required=True, allow_none=True)
    categories = fields.List(fields.Nested(SummaryCategory), required=True)
    overall = fields.Nested(SummaryPart, required=True)
    recovery = fields.List(
        fields.Nested(RecoveryToDate),
        required=True,
        metadata={
            "description": "recovery against comparison merchants, festival to date, as"
            " the recovery job last computed it (live ranges: /stats/recovery)"
        },
    )


class BaselinesStored(Schema):
    rows = fields.Integer(required=True)


# A day's sales across a category can exceed one order's cap by far.
MAX_BASELINE_SALES_FEN = MAX_FEN * 1000
MAX_BASELINE_ROWS = 20_000


class BaselineRow(Schema):
    """A line of the bureau's baselines upload (`PUT /admin/baselines`, text/csv): the
    comparable pre-festival sales of a (date, category). Its fields are the CSV's columns."""

    date = Day(
        cell=True,
        required=True,
        error_messages={"invalid": "date {input!r} is not a YYYY-MM-DD date."},
        range_error="date {input} is not between {min} and {max}.",
    )
    category = Category(required=True, error="category {input!r} is not one of {choices}.")
    sales_fen = FenCell(
        maximum=MAX_BASELINE_SALES_FEN,
        required=True,
        error="sales_fen {input!r} is not a whole number of fen.",
    )


def read_baselines(text: str) -> list[tuple[date, str, int]]:
    """The rows of a baseline CSV, or a DomainError naming every bad line (1 = the header)."""
    rows: list[tuple[date, str, int]] = []
    errors: dict[str, list[str]] = {}
    seen: dict[tuple[date, str], int] = {}
    for number, row, problems in read_rows(text, BaselineRow()):
        if "date" in row and "category" in row:
            key = (row["date"], row["category"])
            if key in seen:
                problems.append(f"repeats line {seen[key]} ({key[0]}, {key[1]}).")
            seen[key] = number
        if problems:
            errors[str(number)] = problems
        else:
            rows.append((row["date"], row["category"], row["sales_fen"]))
    refuse_bad_lines(len(rows), errors, MAX_BASELINE_ROWS)
    return rows
