"""The bureau's audit trail (API.md, "Money safety")."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from service.schemas.common import DayRangeQuery, FullMatch, Instant, QueryInt, Shaped, String
from service.vocabulary import MAX_ID

ACTION = FullMatch(r"[a-z_]+\.[a-z_]+", error="An action such as merchant.update.")


class AuditQuery(DayRangeQuery):
    actor = String(validate=validate.Length(min=1, max=200))
    action = String(validate=[validate.Length(max=64), ACTION])
    object = String(validate=validate.Length(min=1, max=220))
    limit = QueryInt(minimum=1, maximum=5000, load_default=500)
    before_id = QueryInt(
        minimum=1,
        maximum=MAX_ID,
        metadata={"description": "paging: entries older than this id (the last one shown)"},
    )


class AuditEntry(Schema):
    id = fields.Integer(required=True)
    at = Instant(required=True)
    actor = fields.String(required=True, metadata={"description": "bureau account, or a command"})
    action = fields.String(required=True, metadata={"description": "e.g. merchant.update"})
    object = fields.String(required=True, metadata={"description": "e.g. merchants/12"})
    before = Shaped(
        {},
        required=True,
        allow_none=True,
        metadata={"description": "the object before (secrets left out, phones masked)"},
    )
    after = Shaped({}, required=True, allow_none=True, metadata={"description": "and after"})
    request_id = fields.String(required=True, allow_none=True)
    prev_hash = fields.String(required=True)
    hash = fields.String(
        required=True,
        metadata={"description": "hex SHA-256 of prev_hash and the entry's canonical JSON"},
    )
