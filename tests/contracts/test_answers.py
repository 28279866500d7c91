"""Answers are written from their schemas: the compiled dump (service.schemas.dump) writes
exactly what marshmallow's own dump of the declared schema writes, for every endpoint's
answer; times come out in the festival's zone with its offset; and only declared fields."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from marshmallow import Schema, fields, validate
from marshmallow.experimental.context import Context

from service.app import all_endpoints
from service.errors import DomainError, ErrorCode
from service.schemas.common import Date, Either, Instant, columns
from service.schemas.dump import Computed, dump
from service.schemas.stats import BaselineRow, read_baselines
from service.schemas.vouchers import Voucher

TZ = ZoneInfo("Asia/Shanghai")
AT = datetime(2020, 5, 6, 2, 0, tzinfo=UTC)


def sample(field: fields.Field, *, nulls: bool) -> Any:
    if nulls and field.allow_none:
        return None
    if isinstance(field, Instant):
        return AT
    if isinstance(field, Date):
        return date(2020, 5, 6)
    if isinstance(field, fields.Nested):
        one = sample_of(field.schema, nulls=nulls)
        return [one, one] if field.many else one
    if isinstance(field, fields.List):
        return [sample(field.inner, nulls=False)]
    if isinstance(field, fields.Boolean):
        return True
    if isinstance(field, fields.Integer):
        return 7
    if isinstance(field, fields.Float):
        return 0.5
    if isinstance(field, fields.String):
        choices = [v.choices for v in field.validators if isinstance(v, validate.OneOf)]
        return next(iter(choices[0])) if choices else "文本"
    return {"k": [1, "v"]}


def sample_of(schema: Schema, *, nulls: bool) -> dict[str, Any]:
    value = {
        (f.attribute or name): sample(f, nulls=nulls) for name, f in schema.dump_fields.items()
    }
    value["undeclared"] = "never in an answer"
    return value


def answer_schemas() -> list[tuple[str, Schema]]:
    found = []
    for ep in all_endpoints():
        for schema in (ep.response, ep.table):
            # An answer of several shapes: each shape is an answer (and loads as the whole).
            shapes = schema.shapes if isinstance(schema, Either) else (schema,)
            for shape in shapes:
                if shape is not None:
                    found.append((f"{ep.method} {ep.path}", shape))
    return found


@pytest.mark.parametrize("nulls", [False, True])
@pytest.mark.parametrize(("endpoint", "schema"), answer_schemas(), ids=lambda v: str(v))
def test_the_compiled_dump_is_marshmallows(endpoint: str, schema: Schema, nulls: bool) -> None:
    value = sample_of(schema, nulls=nulls)
    value = [value, value] if schema.many else value
    with Context({"tz": TZ}):
        expected = schema.dump(value)
    assert dump(schema, value, TZ) == expected, endpoint
    # And the test suite's check of every body accepts it.
    schema.load(expected)


def test_times_are_in_the_festival_zone_and_nulls_stay_null() -> None:
    row = {
        "code": "ABCD",
        "batch_id": 1,
        "category": "dining",
        "title": "t",
        "face_value_fen": 1000,
        "min_spend_fen": 5000,
        "status": "active",
        "claimed_at": AT,
        "expires_at": AT,
        "redeemed_at": None,
        "claimer": "not declared",
    }
    out = dump(Voucher(), Computed(row, qr="signed"), TZ)
    assert out["claimed_at"] == "2020-05-06T10:00:00+08:00"
    assert out["redeemed_at"] is None
    assert out["qr"] == "signed"
    assert "claimer" not in out


def test_endpoint_errors_are_error_codes() -> None:
    for ep in all_endpoints():
        assert all(isinstance(code, ErrorCode) for code in ep.errors), ep.path


def test_uploads_are_read_by_their_row_schemas() -> None:
    """The baselines upload's lines through BaselineRow: its columns are the header, and each
    bad line is named with what is wrong with it, as before the row schemas."""
    text = (
        "date,category,sales_fen\n"
        "2020-05-06,shopping,50000\n"
        "2020-02-30,shopping,1\n"
        "2020-05-07,cinema,1\n"
        "2020-05-09,dining,12.5\n"
        "2020-05-10,dining\n"
        "2020-05-06,shopping,7\n"
        "1999-01-01,auto,1\n"
    )
    assert columns(BaselineRow()) == ("date", "category", "sales_fen")
    with pytest.raises(DomainError) as refused:
        read_baselines(text)
    assert refused.value.details["lines"] == {
        "3": ["date '2020-02-30' is not a YYYY-MM-DD date."],
        "4": ["category 'cinema' is not one of shopping, dining, culture_tourism, auto."],
        "5": ["sales_fen '12.5' is not a whole number of fen."],
        "6": ["Expected 3 fields, got 2."],
        "7": ["repeats line 2 (2020-05-06, shopping)."],
        "8": ["date 1999-01-01 is not between 2000-01-01 and 2099-12-31."],
    }
    assert read_baselines("date,category,sales_fen\n2020-05-11,auto,100\n") == [
        (date(2020, 5, 11), "auto", 100)
    ]
