"""Fields shared by every schema: strict JSON types, money in fen, times with offsets, and the
input rules of API.md: no control characters or lone surrogates in text, ASCII-only patterns
matched in full, dates between 2000-01-01 and 2099-12-31."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from service.errors import DomainError, ErrorCode
from service.vocabulary import (
    CATEGORIES,
    FIRST_DAY,
    LAST_DAY,
    MAX_FEN,
    MAX_ID,
    MAX_RANGE_DAYS,
    text_problem,
)

_EARLIEST = datetime.combine(FIRST_DAY, time.min, UTC)
_LATEST = datetime.combine(LAST_DAY, time.max, UTC)


class String(fields.String):
    """Every text field of a request: control characters and lone surrogates are refused
    (tab and newline too, unless `free_text`)."""

    def __init__(self, *, free_text: bool = False, **kw: Any) -> None:
        super().__init__(**kw)
        self.free_text = free_text

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        text = super()._deserialize(value, attr, data, **kwargs)
        problem = text_problem(text, free_text=self.free_text)
        if problem:
            raise ValidationError(problem)
        return text


class FullMatch(validate.Validator):
    """A regular expression matched against the whole value, ASCII classes only: `\\d` is
    0-9 (not `٢` or `２`) and `$` does not let a trailing newline through (re.match would)."""

    def __init__(self, pattern: str, *, error: str) -> None:
        # Anchored too, so the OpenAPI document (apispec copies `regex`) says the same.
        self.regex = re.compile(f"^(?:{pattern})$", re.ASCII)
        self.message = error

    def __call__(self, value: Any) -> Any:
        if not isinstance(value, str) or self.regex.fullmatch(value) is None:
            raise ValidationError(self.message)
        return value

    def _repr_args(self) -> str:
        return f"pattern={self.regex.pattern!r}"


# What a checkout or a resident's page sends as Idempotency-Key: 1 to 64 visible ASCII.
IDEMPOTENCY_KEY = FullMatch(r"[\x21-\x7e]{1,64}", error="1 to 64 visible ASCII characters.")


class StrictBool(fields.Boolean):
    """JSON true/false only: "true", 1 and "yes" are type errors, not booleans."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, bool):
            raise ValidationError("Not a valid boolean.")
        return value


def Int(*, minimum: int | None = None, maximum: int | None = None, **kw: Any) -> fields.Integer:
    return fields.Integer(strict=True, validate=validate.Range(min=minimum, max=maximum), **kw)


class QueryInteger(fields.Integer):
    """An integer in a query string: ASCII digits only (`int("١٢")` would be 12)."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, str) or not re.fullmatch(r"-?[0-9]{1,18}", value, re.ASCII):
            raise ValidationError("Not a valid integer.")
        return super()._deserialize(value, attr, data, **kwargs)


def QueryInt(*, minimum: int | None = None, maximum: int | None = None, **kw: Any) -> QueryInteger:
    return QueryInteger(validate=validate.Range(min=minimum, max=maximum), **kw)


def Fen(*, minimum: int = 0, **kw: Any) -> fields.Integer:
    """Money as integer fen (1 yuan = 100 fen); floats and strings are refused."""
    return Int(minimum=minimum, maximum=MAX_FEN, **kw)


class TrimmedString(String):
    """Surrounding whitespace is dropped, so "   " counts as empty."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        return super()._deserialize(value, attr, data, **kwargs).strip()


def Text(*, max_length: int, min_length: int = 1, free_text: bool = False, **kw: Any) -> String:
    return TrimmedString(
        free_text=free_text, validate=validate.Length(min=min_length, max=max_length), **kw
    )


def Id(**kw: Any) -> fields.Integer:
    """A row id: a positive integer that fits PostgreSQL's bigint."""
    return Int(minimum=1, maximum=MAX_ID, **kw)


def Category(**kw: Any) -> String:
    return String(validate=validate.OneOf(CATEGORIES), **kw)


def OneOf(choices: tuple[str, ...], **kw: Any) -> String:
    return String(validate=validate.OneOf(choices), **kw)


def Day(**kw: Any) -> fields.Date:
    """A business day, YYYY-MM-DD, between 2000-01-01 and 2099-12-31 (so that no date
    arithmetic can overflow and no query scans the year 1)."""
    return fields.Date(
        validate=validate.Range(
            min=FIRST_DAY, max=LAST_DAY, error="Must be between 2000-01-01 and 2099-12-31."
        ),
        **kw,
    )


def When(**kw: Any) -> fields.AwareDateTime:
    """An ISO 8601 instant with its offset, in 2000-2099; a bare date or a naive time is
    refused."""
    return fields.AwareDateTime(
        format="iso",
        validate=validate.Range(
            min=_EARLIEST, max=_LATEST, error="Must be between 2000-01-01 and 2099-12-31 (UTC)."
        ),
        **kw,
    )


FORMAT = ("json", "csv")


class TableQuery(Schema):
    """Any list the bureau may also download: `?format=csv` (or `Accept: text/csv`)."""

    format = OneOf(FORMAT)


class DayRangeQuery(TableQuery):
    """`from` and `to`, both optional, in order; the handler fills the defaults and checks
    the span (at most MAX_RANGE_DAYS) with `check_span`."""

    from_ = Day(data_key="from")
    to = Day()

    @validates_schema
    def _order(self, data: dict[str, Any], **_: object) -> None:
        if "from_" in data and "to" in data and data["from_"] > data["to"]:
            raise ValidationError("Must not be after to.", "from")


def check_span(from_day: date, to_day: date) -> None:
    if (to_day - from_day).days >= MAX_RANGE_DAYS:
        raise DomainError(
            ErrorCode.INVALID_REQUEST,
            f"at most {MAX_RANGE_DAYS} days per request",
            {"from": [f"The range may span at most {MAX_RANGE_DAYS} days."]},
        )


def columns(schema: Schema) -> tuple[str, ...]:
    """The CSV header of a row schema: its fields' names in the order they are declared."""
    return tuple(f.data_key or name for name, f in schema.fields.items())


class ErrorDetail(Schema):
    code = fields.String(required=True)
    message = fields.String(required=True)
    details = fields.Dict(required=True)


class ErrorBody(Schema):
    error = fields.Nested(ErrorDetail, required=True)


class TokenResponse(Schema):
    access_token = fields.String(required=True)
    token_type = fields.String(required=True, metadata={"example": "Bearer"})
    expires_in = fields.Integer(required=True)


def require_some(data: dict[str, Any], names: tuple[str, ...]) -> None:
    if not any(name in data for name in names):
        raise ValidationError(f"give at least one of: {', '.join(names)}", "_schema")


class CategoryItem(Schema):
    code = fields.String(required=True)
    name_zh = fields.String(required=True)
    name_en = fields.String(required=True)
