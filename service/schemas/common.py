"""Fields shared by every schema: strict JSON types, money in fen, times with offsets."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

CATEGORIES = ("shopping", "dining", "culture_tourism", "auto")
# Ten million yuan: far above any festival order, far below int32 overflow in sums per row.
MAX_FEN = 1_000_000_000


class StrictBool(fields.Boolean):
    """JSON true/false only: "true", 1 and "yes" are type errors, not booleans."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, bool):
            raise ValidationError("Not a valid boolean.")
        return value


def Int(*, minimum: int | None = None, maximum: int | None = None, **kw: Any) -> fields.Integer:
    return fields.Integer(strict=True, validate=validate.Range(min=minimum, max=maximum), **kw)


def Fen(*, minimum: int = 0, **kw: Any) -> fields.Integer:
    """Money as integer fen (1 yuan = 100 fen); floats and strings are refused."""
    return Int(minimum=minimum, maximum=MAX_FEN, **kw)


class TrimmedString(fields.String):
    """Surrounding whitespace is dropped, so "   " counts as empty."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        return super()._deserialize(value, attr, data, **kwargs).strip()


def Text(*, max_length: int, min_length: int = 1, **kw: Any) -> fields.String:
    return TrimmedString(validate=validate.Length(min=min_length, max=max_length), **kw)


MAX_ID = 2**63 - 1


def Id(**kw: Any) -> fields.Integer:
    """A row id: a positive integer that fits PostgreSQL's bigint."""
    return Int(minimum=1, maximum=MAX_ID, **kw)


def Category(**kw: Any) -> fields.String:
    return fields.String(validate=validate.OneOf(CATEGORIES), **kw)


def When(**kw: Any) -> fields.AwareDateTime:
    """An ISO 8601 instant with its offset; a bare date or a naive time is refused."""
    return fields.AwareDateTime(format="iso", **kw)


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
