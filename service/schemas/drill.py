"""The drill clock (演练): moving it, and what it says."""

from __future__ import annotations

from marshmallow import Schema, fields

from service.schemas.common import Instant, When


class DrillMove(Schema):
    to = When(
        required=True,
        metadata={"description": "the festival's new now; never earlier than its current now"},
    )


class DrillClockState(Schema):
    drill = fields.Boolean(required=True)
    now = Instant(required=True, metadata={"description": "the festival's clock"})
    offset_s = fields.Float(
        required=True,
        metadata={"description": "seconds the festival's clock is ahead of real time"},
    )
    moved_at = Instant(required=True, metadata={"description": "real time of the move"})
