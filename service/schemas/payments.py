"""Bank files and the bank's returns (API.md, "Money ledger": payouts and returns)."""

from __future__ import annotations

import re
from typing import Any

from marshmallow import Schema, ValidationError, fields

from service.schemas.common import (
    Instant,
    OneOf,
    QueryInt,
    String,
    TableQuery,
)
from service.vocabulary import LEFT_OUT_REASONS, RETURN_STATUSES


class ExportRequest(Schema):
    """Nothing to choose: an export pays every merchant owed something and not held."""


class LeftOut(Schema):
    merchant_id = fields.Integer(required=True)
    reason = fields.String(required=True, metadata={"description": " | ".join(LEFT_OUT_REASONS)})
    balance_fen = fields.Integer(required=True)


class Export(Schema):
    id = fields.Integer(required=True)
    created_at = Instant(required=True)
    sha256 = fields.String(required=True, metadata={"description": "of the file's exact bytes"})
    rows = fields.Integer(required=True)
    total_fen = fields.Integer(required=True)
    left_out = fields.List(fields.Nested(LeftOut), required=True)


class ExportRow(Export):
    """An export as listed, with what the bank has answered of it so far."""

    created_by = fields.String(required=True)
    paid = fields.Integer(required=True)
    failed = fields.Integer(required=True)
    in_transit_fen = fields.Integer(required=True)


class ExportsQuery(TableQuery):
    limit = QueryInt(minimum=1, maximum=1000, load_default=100)


class ReturnsApplied(Schema):
    rows = fields.Integer(required=True)
    paid = fields.Integer(required=True)
    failed = fields.Integer(required=True)
    paid_fen = fields.Integer(required=True)
    failed_fen = fields.Integer(required=True)


MAX_RETURN_ROWS = 20_000
# HYF-E000123-0019 (export 123, merchant 19); HYF-20200506-0019 from before the ledger.
_REFERENCE = re.compile(r"HYF-(E[0-9]{6,}|[0-9]{8})-[0-9]{4,}", re.ASCII)
_YUAN = re.compile(r"([0-9]{1,13})\.([0-9]{2})", re.ASCII)


def _reference(value: str) -> None:
    if not _REFERENCE.fullmatch(value):
        raise ValidationError(f"reference {value!r} is not a bank file reference.")


class YuanCell(fields.Field):
    """An amount in yuan with two decimals (12.30), as the bank writes it; read as fen."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> int:
        found = _YUAN.fullmatch(value) if isinstance(value, str) else None
        if found is None:
            raise ValidationError(f"amount_yuan {value!r} is not yuan with two decimals.")
        return int(found[1]) * 100 + int(found[2])


class ReturnRow(Schema):
    """A line of the bank's returns file (`PUT /admin/payments/returns`, text/csv): what
    happened to one payment. Its fields are the CSV's columns; amount_yuan may be left out
    (the header then has only the other two)."""

    reference = String(required=True, validate=_reference)
    status = OneOf(RETURN_STATUSES, required=True, error="status {input!r} is not paid or failed.")
    amount_yuan = YuanCell(metadata={"description": "the bank's amount, checked when given"})
