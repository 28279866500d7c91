"""Messages (SMS): a resident's preference, and the bureau's view of the outbox."""

from __future__ import annotations

from marshmallow import Schema, fields

from service.schemas.common import Instant, OneOf, QueryInt, StrictBool
from service.vocabulary import MAX_ID, MESSAGE_KINDS, MESSAGE_STATUSES, SKIP_REASONS


class PreferencesSet(Schema):
    sms_reminders = StrictBool(
        required=True,
        metadata={"description": "false stops expiry reminders (not lottery results)"},
    )


class Preferences(Schema):
    sms_reminders = fields.Boolean(
        required=True,
        metadata={
            "description": "expiry reminders by SMS; off for one account is off for the person"
        },
    )
    phone = fields.String(
        required=True,
        allow_none=True,
        metadata={
            "description": "where the person's messages go, masked (138****5678); null: no"
            " phone is known (signed in only through the identity platform), so no SMS"
        },
    )


class MessagesQuery(Schema):
    status = OneOf(MESSAGE_STATUSES)
    kind = OneOf(MESSAGE_KINDS)
    limit = QueryInt(minimum=1, maximum=1000, load_default=100)
    before_id = QueryInt(
        minimum=1,
        maximum=MAX_ID,
        metadata={"description": "the next page: the answer's next_before_id"},
    )


def _each(names: tuple[str, ...], what: str) -> type[Schema]:
    return Schema.from_dict(
        {n: fields.Integer(required=True) for n in names}, name=f"MessagesBy{what}"
    )


class MessageCounts(Schema):
    total = fields.Integer(required=True)
    by_status = fields.Nested(_each(MESSAGE_STATUSES, "Status"), required=True)
    by_kind = fields.Nested(_each(MESSAGE_KINDS, "Kind"), required=True)


class Message(Schema):
    id = fields.Integer(required=True)
    kind = OneOf(MESSAGE_KINDS, required=True)
    phone = fields.String(
        required=True, attribute="phone_masked", metadata={"description": "masked: 138****5678"}
    )
    text = fields.String(required=True)
    status = OneOf(MESSAGE_STATUSES, required=True)
    attempts = fields.Integer(required=True)
    dedupe_key = fields.String(
        required=True,
        metadata={
            "description": "its cause, e.g. lottery:<batch>:<person>, expiry3:<person>:<day>"
        },
    )
    created_at = Instant(required=True)
    updated_at = Instant(required=True)
    next_attempt_at = Instant(required=True)
    sent_at = Instant(required=True, allow_none=True)
    provider_message_id = fields.String(required=True, allow_none=True)
    last_error = fields.String(required=True, allow_none=True)
    skip_reason = OneOf(SKIP_REASONS, required=True, allow_none=True)


class Messages(Schema):
    counts = fields.Nested(
        MessageCounts,
        required=True,
        metadata={"description": "of the messages the filters select, all pages"},
    )
    items = fields.List(fields.Nested(Message), required=True)
    next_before_id = fields.Integer(
        required=True, allow_none=True, metadata={"description": "null: this is the last page"}
    )
