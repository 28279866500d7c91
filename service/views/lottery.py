"""Entries and draw records as the API shows them."""

from __future__ import annotations

from typing import Any

import asyncpg

from service.domain.lottery import Entry
from service.timefmt import iso


def entry_json(entry: Entry, tz: Any) -> dict[str, Any]:
    return {
        "batch_id": entry.batch_id,
        "entry_id": entry.entry_id,
        "entered_at": iso(entry.entered_at, tz),
        "status": entry.status,
    }


def my_entry_json(row: asyncpg.Record, tz: Any) -> dict[str, Any]:
    return {
        "batch_id": row["batch_id"],
        "entry_id": row["entry_id"],
        "entered_at": iso(row["entered_at"], tz),
        "status": row["status"],
        "voucher_code": row["voucher_code"],
        "title": row["title"],
        "category": row["category"],
        "face_value_fen": row["face_value_fen"],
        "draw_at": iso(row["draw_at"], tz),
        "drawn_at": iso(row["drawn_at"], tz),
    }


def draw_record_text(row: asyncpg.Record, tz: Any) -> str:
    """The record as JSON text; a drawn one carries every entry id (a million of them, already
    JSON from PostgreSQL), spliced in rather than parsed and written again."""
    from service.answers import as_text

    head: dict[str, Any] = {
        "batch_id": row["batch_id"],
        "status": "drawn" if row["drawn_at"] is not None else "pending",
        "seed_commitment": row["seed_commitment"],
        "entries": row["entries"],
    }
    if row["drawn_at"] is None:
        return as_text(head)
    head |= {
        "seed": row["seed"],
        "drawn_at": iso(row["drawn_at"], tz),
        "drawn_quantity": row["drawn_quantity"],
    }
    text = as_text(head)
    return (
        text[:-1]
        + f',"entry_ids":{row["entry_ids"]},"winner_entry_ids":{row["winner_entry_ids"]}}}'
    )
