"""The bureau's suspensions of persons."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from service.schemas.common import FullMatch, Instant, StrictBool, String, Text

# 'p:' + the identity platform's pid, or 'r:' + an account's sub (API.md, "Identity").
PERSON = FullMatch(r"[pr]:.{1,200}", error="A person: 'p:' + pid, or 'r:' + an account's sub.")


class SuspensionSet(Schema):
    person = String(required=True, validate=[validate.Length(max=202), PERSON])
    suspended = StrictBool(required=True)
    reason = Text(max_length=200, metadata={"description": "required to suspend"})

    @validates_schema
    def _reason(self, data: dict[str, Any], **_: object) -> None:
        if data.get("suspended") and "reason" not in data:
            raise ValidationError("Say why the person is suspended.", "reason")


class Suspension(Schema):
    person = fields.String(required=True)
    suspended = fields.Boolean(required=True)
    # Null when the person is not suspended.
    reason = fields.String(required=True, allow_none=True, dump_default=None)
    suspended_at = Instant(required=True, allow_none=True, dump_default=None)
    suspended_by = fields.String(required=True, allow_none=True, dump_default=None)
