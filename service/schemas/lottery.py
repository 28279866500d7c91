"""Lottery entries and the public record of a draw."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from service.schemas.common import CategoryName, Instant
from service.vocabulary import DRAW_STATUSES, ENTRY_STATUSES


class Entry(Schema):
    batch_id = fields.Integer(required=True)
    entry_id = fields.String(required=True, metadata={"description": "random, 32 hex; public"})
    entered_at = Instant(required=True)
    status = fields.String(required=True, validate=validate.OneOf(ENTRY_STATUSES))


class MyEntry(Entry):
    voucher_code = fields.String(required=True, allow_none=True)
    title = fields.String(required=True)
    category = CategoryName(required=True)
    face_value_fen = fields.Integer(required=True)
    draw_at = Instant(required=True)
    drawn_at = Instant(required=True, allow_none=True)


class DrawRecord(Schema):
    batch_id = fields.Integer(required=True)
    status = fields.String(required=True, validate=validate.OneOf(DRAW_STATUSES))
    seed_commitment = fields.String(required=True)
    entries = fields.Integer(required=True)
    seed = fields.String(metadata={"description": "once drawn: the seed, hex"})
    drawn_at = Instant()
    drawn_quantity = fields.Integer(metadata={"description": "vouchers the draw had to give"})
    entry_ids = fields.List(fields.String(), metadata={"description": "all, in ranking order"})
    winner_entry_ids = fields.List(fields.String())
