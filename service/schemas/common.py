"""Fields shared by every schema: strict JSON types, money in fen, times with offsets, and the
input rules of API.md: no control characters or lone surrogates in text, ASCII-only patterns
matched in full, dates between 2000-01-01 and 2099-12-31."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from marshmallow.experimental.context import Context

from service import csvin
from service.errors import DomainError, ErrorCode
from service.timefmt import iso
from service.vocabulary import (
    CATEGORIES,
    FIRST_DAY,
    FORMATS,
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


def Category(*, error: str | None = None, **kw: Any) -> String:
    return String(validate=validate.OneOf(CATEGORIES, error=error), **kw)


def OneOf(choices: tuple[str, ...], *, error: str | None = None, **kw: Any) -> String:
    return String(validate=validate.OneOf(choices, error=error), **kw)


def Day(
    *,
    cell: bool = False,
    range_error: str = "Must be between 2000-01-01 and 2099-12-31.",
    **kw: Any,
) -> fields.Date:
    """A business day, YYYY-MM-DD, between 2000-01-01 and 2099-12-31 (so that no date
    arithmetic can overflow and no query scans the year 1). `cell`: in a CSV upload, where
    it is exactly ten ASCII characters."""
    return (_CellDate if cell else fields.Date)(
        validate=validate.Range(min=FIRST_DAY, max=LAST_DAY, error=range_error), **kw
    )


class _CellDate(fields.Date):
    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, str) or len(value) != 10 or not value.isascii():
            raise self.make_error("invalid", input=value)
        return super()._deserialize(value, attr, data, **kwargs)


_CELL_DIGITS = re.compile(r"[0-9]{1,15}", re.ASCII)


class CellInteger(fields.Integer):
    """A whole number in a CSV cell: 1 to 15 ASCII digits (no sign, point or spaces), at most
    `maximum`; `error` (which may name the cell's {input}) for anything else."""

    def __init__(self, *, maximum: int, error: str, **kw: Any) -> None:
        super().__init__(error_messages={"invalid": error}, **kw)
        self.maximum = maximum

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, str) or _CELL_DIGITS.fullmatch(value) is None:
            raise self.make_error("invalid", input=value)
        if int(value) > self.maximum:
            raise self.make_error("invalid", input=value)
        return int(value)


def FenCell(*, maximum: int = MAX_FEN, error: str, **kw: Any) -> CellInteger:
    """Money in a CSV cell, as `Fen` in a JSON body: whole fen from 0 to `maximum`."""
    return CellInteger(maximum=maximum, error=error, **kw)


def read_rows(text: str, schema: Schema) -> Iterator[tuple[int, dict[str, Any], list[str]]]:
    """An uploaded CSV read by its row schema: the header is the schema's columns (those of
    its required fields alone will do); each line as (its number, the fields that were
    valid, what is wrong with it). Lines that cannot be read at all are the upload's own
    errors (`upload.errors`), yielded first as lines with nothing valid."""
    every = list(columns(schema))
    required = [name for name in every if schema.fields[name].required]
    headers = [required, every] if required != every else [every]
    upload = csvin.read(text, headers)
    for line, problems in upload.errors.items():
        yield int(line), {}, problems
    for number, cells in upload.lines:
        try:
            row: dict[str, Any] = schema.load(dict(zip(upload.header, cells, strict=True)))
        except ValidationError as err:
            messages: dict[str, Any] = err.messages if isinstance(err.messages, dict) else {}
            found = [str(m) for name in upload.header for m in messages.get(name, [])]
            valid: dict[str, Any] = err.valid_data if isinstance(err.valid_data, dict) else {}
            yield number, valid, found or [str(err.messages)]
        else:
            yield number, row, []


def refuse_bad_lines(rows: int, errors: dict[str, list[str]], max_rows: int) -> None:
    """Every bad line named, and nothing stored; or too many rows; or none."""
    csvin.refuse_if_bad(rows, errors, max_rows)


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


class TableQuery(Schema):
    """Any list the bureau may also download: `?format=csv` or `?format=xlsx` (or `Accept:
    text/csv` or the .xlsx media type)."""

    format = OneOf(FORMATS)


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


# Fields of answers. An answer's schema dumps the domain's values (rows, dataclasses, dicts):
# times in the festival's zone with its offset, days as YYYY-MM-DD; None stays null. Times
# need the zone: `service.schemas.dump.dump` passes it, as does `Context({"tz": tz})`
# around a plain `Schema().dump` (what the tests compare the two with).
class Instant(fields.AwareDateTime):
    """An instant in an answer: ISO 8601 in the festival's zone, `2020-05-06T10:00:00+08:00`."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(format="iso", **kw)

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> Any:
        return iso(value, Context[dict[str, Any]].get()["tz"])


def CategoryName(**kw: Any) -> fields.String:
    """A category in an answer: one of CATEGORIES, declared as an enum so that generated
    clients get a type (an answer is dumped, never validated)."""
    return fields.String(validate=validate.OneOf(CATEGORIES), **kw)


def Named(choices: tuple[str, ...], **kw: Any) -> fields.String:
    """A word of the vocabulary (a status, a kind) in an answer, declared as an enum."""
    return fields.String(validate=validate.OneOf(choices), **kw)


def Shaped(
    properties: dict[str, dict[str, Any]], *, always: tuple[str, ...] = (), **kw: Any
) -> fields.Dict:
    """A JSON object in an answer whose known keys are declared (for generated clients)
    while others may come too (`always`: keys every one has); dumped as it is."""
    shape: dict[str, Any] = {"properties": properties, "additionalProperties": True}
    if always:
        shape["required"] = list(always)
    metadata = {**kw.pop("metadata", {}), **shape}
    return fields.Dict(keys=fields.String(), metadata=metadata, **kw)


class Date(fields.Date):
    """A business day in an answer, YYYY-MM-DD."""

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> Any:
        return None if value is None else value.isoformat()


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


class Either(Schema):
    """An answer of one of several declared shapes (POST /merchant/redemptions answers a
    redemption for `code`, a checkout for `codes` or `qr`): the OpenAPI document says `oneOf`
    them, and the suite's check of a body takes the first shape that loads it. Its handler
    writes the answer by the right shape itself (never `call.answer`)."""

    def __init__(self, *shapes: Schema) -> None:
        super().__init__()
        self.shapes = shapes

    def load(self, data: Any, **kw: Any) -> Any:  # type: ignore[override]
        errors: dict[str, Any] = {}
        for shape in self.shapes:
            try:
                return shape.load(data, **kw)
            except ValidationError as err:
                errors[type(shape).__name__] = err.messages
        raise ValidationError(errors)


def require_some(data: dict[str, Any], names: tuple[str, ...]) -> None:
    if not any(name in data for name in names):
        raise ValidationError(f"give at least one of: {', '.join(names)}", "_schema")


class CategoryItem(Schema):
    code = fields.String(required=True)
    name_zh = fields.String(required=True)
    name_en = fields.String(required=True)
