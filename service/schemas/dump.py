"""Answers from their schemas: `dump(schema, value, tz)` writes what the schema declares of a
domain value (an asyncpg row, a dict, a dataclass), and nothing else.

What `Schema().dump` does, compiled once per schema into a list of (key, attribute,
conversion), because the hot answers (a claim, a redemption, a wallet of 200 vouchers) are
written thousands of times a second and marshmallow's dump is several times slower than a
dict literal. The field list is still the schema's: declaring a field there is what puts it
in the answer. Values are passed as they are (an integer stays an integer, a float a float),
as the views wrote them; only times and days are formatted, and nested schemas followed.
tests/contracts/test_answers.py checks that this equals marshmallow's own dump for every answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from marshmallow import Schema, fields, missing

from service.schemas.common import Date, Instant
from service.timefmt import iso

_MISSING: Any = object()

# A conversion: (value, tz) -> JSON value; None when the value is passed as it is.
Convert = Callable[[Any, Any], Any] | None
# Each field: its key in the answer, the attribute it reads, its conversion, and what it
# writes when the value has no such attribute (_MISSING: the key is left out, as
# marshmallow leaves it out unless the field has a dump_default).
Plan = tuple[tuple[str, str, Convert, Any], ...]

_PLANS: dict[int, tuple[Schema, Plan]] = {}


class Computed(Mapping[str, Any]):
    """A row and the fields a view computes for it (a voucher's signed qr, a masked phone):
    the computed ones first, then the row's. Nothing is copied."""

    __slots__ = ("_computed", "_row")

    def __init__(self, row: Any, **computed: Any) -> None:
        self._row = row
        self._computed = computed

    def __getitem__(self, key: str) -> Any:
        if key in self._computed:
            return self._computed[key]
        found = _get(self._row, key)
        if found is _MISSING:
            raise KeyError(key)
        return found

    def _keys(self) -> dict[str, None]:
        row = self._row.keys() if hasattr(self._row, "keys") else vars(self._row)
        return dict.fromkeys([*row, *self._computed])

    def __iter__(self) -> Any:
        return iter(self._keys())

    def __len__(self) -> int:
        return len(self._keys())


def _get(obj: Any, attr: str) -> Any:
    if hasattr(type(obj), "__getitem__"):
        try:
            return obj[attr]
        except KeyError:
            return _MISSING
    return getattr(obj, attr, _MISSING)


def _day(value: Any, tz: Any) -> Any:
    return value.isoformat()


def _instant(value: Any, tz: Any) -> Any:
    return iso(value, tz)


def _nested(plan: Plan) -> Callable[[Any, Any], Any]:
    return lambda value, tz: _write(plan, value, tz)


def _each(convert: Callable[[Any, Any], Any] | None) -> Callable[[Any, Any], Any]:
    if convert is None:
        return lambda values, tz: list(values)
    return lambda values, tz: [None if v is None else convert(v, tz) for v in values]


def _convert(field: fields.Field) -> Convert:
    if isinstance(field, Instant):
        return _instant
    if isinstance(field, Date):
        return _day
    if isinstance(field, fields.Nested):
        inner = _nested(plan_of(field.schema))
        return _each(inner) if field.many else inner
    if isinstance(field, fields.List):
        return _each(_convert(field.inner))
    if isinstance(field, fields.Integer | fields.Float | fields.String | fields.Boolean):
        return None
    if type(field) in (fields.Raw, fields.Dict):
        return None
    raise TypeError(f"no answer conversion for {type(field).__name__}; add one to dump.py")


def plan_of(schema: Schema) -> Plan:
    """The schema's answer fields in declaration order (also the CSV's column order)."""
    cached = _PLANS.get(id(schema))
    if cached is not None and cached[0] is schema:
        return cached[1]
    plan = tuple(
        (field.data_key or name, field.attribute or name, _convert(field), _default(field))
        for name, field in schema.dump_fields.items()
    )
    _PLANS[id(schema)] = (schema, plan)  # the schema is kept, so its id is not reused
    return plan


def _default(field: fields.Field) -> Any:
    default = field.dump_default
    if default is missing:
        return _MISSING
    if callable(default):
        raise TypeError("a callable dump_default is not supported in answers")
    return default


def _write(plan: Plan, value: Any, tz: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if type(value) is Computed and hasattr(type(value._row), "__getitem__"):
        # The hot answers (a voucher and its qr): the computed fields, then the row's, read
        # directly rather than through Computed.__getitem__.
        computed, row = value._computed, value._row
        for key, attr, convert, default in plan:
            if attr in computed:
                found = computed[attr]
            else:
                try:
                    found = row[attr]
                except KeyError:
                    if default is _MISSING:
                        continue
                    found = default
            out[key] = found if convert is None or found is None else convert(found, tz)
        return out
    keyed = hasattr(type(value), "__getitem__")
    for key, attr, convert, default in plan:
        if keyed:
            try:
                found = value[attr]
            except KeyError:
                found = _MISSING
        else:
            found = getattr(value, attr, _MISSING)
        if found is _MISSING:
            if default is _MISSING:
                continue
            found = default
        out[key] = found if convert is None or found is None else convert(found, tz)
    return out


def dump(schema: Schema, value: Any, tz: Any) -> Any:
    """`value` as the schema declares it (a list when the schema is `many`)."""
    plan = plan_of(schema)
    if schema.many:
        return [_write(plan, v, tz) for v in value]
    return _write(plan, value, tz)


def dump_each(schema: Schema, values: Iterable[Any], tz: Any) -> list[dict[str, Any]]:
    """Each of `values` as the (single-item) schema declares it: the rows of a table."""
    plan = plan_of(schema)
    return [_write(plan, v, tz) for v in values]
