"""CSV answers for the bureau, who would otherwise copy numbers into spreadsheets by hand."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from aiohttp import web

from service.csvtext import csv_text
from service.http import Call, json_response
from service.schemas.common import columns
from service.schemas.dump import dump_each


def wants_csv(request: web.Request, query: Mapping[str, Any]) -> bool:
    if query.get("format") == "csv":
        return True
    accept = request.headers.get("Accept", "")
    return "text/csv" in accept and "application/json" not in accept


def table_response(call: Call, rows: Iterable[Any], filename: str) -> web.Response:
    """The one ending of every list the bureau may download (an endpoint with a `table`):
    `{"items": [...]}`, or the same rows as CSV whose columns are the table's fields; each
    row written as the table's row schema declares it."""
    table = call.endpoint.table
    assert table is not None, "table_response answers table endpoints"
    items = dump_each(table, rows, call.settings.tz)
    if wants_csv(call.request, call.query):
        return csv_response(items, columns(table), filename)
    return json_response({"items": items})


def csv_response(
    rows: Iterable[Mapping[str, Any]], columns: Sequence[str], filename: str
) -> web.Response:
    return web.Response(
        text=csv_text(rows, columns),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
