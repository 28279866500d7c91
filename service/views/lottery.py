"""The public record of a draw, as the API shows it."""

from __future__ import annotations

from typing import Any

import asyncpg

from service.answers import as_text
from service.schemas.dump import Computed, dump
from service.schemas.lottery import DrawRecord

_SPLICED = ("entry_ids", "winner_entry_ids")
# Before the draw: the record's required fields; after it, all but the spliced lists.
_PENDING = DrawRecord(only=[n for n, f in DrawRecord().fields.items() if f.required])
_DRAWN = DrawRecord(exclude=_SPLICED)


def draw_record_text(row: asyncpg.Record, tz: Any) -> str:
    """The record as JSON text; a drawn one carries every entry id (a million of them, already
    JSON from PostgreSQL), spliced in rather than parsed and written again."""
    drawn = row["drawn_at"] is not None
    record = Computed(row, status="drawn" if drawn else "pending")
    text = as_text(dump(_DRAWN if drawn else _PENDING, record, tz))
    if not drawn:
        return text
    return (
        text[:-1]
        + f',"entry_ids":{row["entry_ids"]},"winner_entry_ids":{row["winner_entry_ids"]}}}'
    )
