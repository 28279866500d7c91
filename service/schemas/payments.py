"""Bank files, returns and the reconciliation (API.md, "Money safety")."""

from __future__ import annotations

from marshmallow import Schema, fields

from service.schemas.common import Day


class ExportRequest(Schema):
    date = Day(required=True)


class ReconciliationQuery(Schema):
    date = Day(required=True)


class ReturnsApplied(Schema):
    rows = fields.Integer(required=True)


def _fen(description: str) -> fields.Integer:
    return fields.Integer(required=True, metadata={"description": description})


class Reconciliation(Schema):
    date = fields.String(required=True)
    lines = fields.Integer(required=True)
    settled_fen = _fen("every line of the day (subsidy plus adjustments)")
    redemptions_fen = _fen("the same, recomputed from the redemptions and clawbacks settled")
    pending_fen = _fen("awaiting a bank file")
    held_fen = _fen("held: the merchant has a confirmed cash-out flag")
    exported_fen = _fen("in a bank file: paid + failed + in flight")
    paid_fen = _fen("returned paid")
    failed_fen = _fen("returned failed")
    in_flight_fen = _fen("exported, not yet returned")
    balanced = fields.Boolean(
        required=True,
        metadata={
            "description": "settled = redemptions = pending + held + exported, and"
            " exported = paid + failed + in flight"
        },
    )
