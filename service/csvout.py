"""CSV answers for the bureau, who would otherwise copy numbers into spreadsheets by hand."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from aiohttp import web


def wants_csv(request: web.Request, query: Mapping[str, Any]) -> bool:
    if query.get("format") == "csv":
        return True
    accept = request.headers.get("Accept", "")
    return "text/csv" in accept and "application/json" not in accept


def csv_response(
    rows: Iterable[Mapping[str, Any]], columns: Sequence[str], filename: str
) -> web.Response:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row[c] is None else row[c] for c in columns])
    return web.Response(
        text=buffer.getvalue(),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
