"""The bureau's downloads, who would otherwise copy numbers into spreadsheets by hand: the
rows of a list as CSV (`?format=csv`, `Accept: text/csv`) or as an Excel workbook
(`?format=xlsx`, `Accept: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet`).
Both are written from one list of rows, dumped once by the row schema, whose fields are the
columns (and, for the workbook, say which cells are numbers, money, days or instants)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from aiohttp import web
from marshmallow import Schema, fields

from service.csvtext import csv_text
from service.http import Call, json_response
from service.schemas.common import Date, Instant, columns
from service.schemas.dump import dump_each
from service.xlsxbook import XLSX, Column, Kind, workbook

# Excel and WPS on Windows read a CSV without a byte order mark in the local code page
# (GBK), which garbles every Chinese name; with it they read UTF-8. Only the downloads carry
# it: a kept bank file's bytes are the bank's format and hashed as they are.
BOM = "\ufeff"


def table_format(request: web.Request, query: Mapping[str, Any]) -> str:
    """`json`, `csv` or `xlsx`: `?format=` first, else the Accept header (JSON when it is
    named at all, so a browser's or a client's default gets JSON)."""
    given = query.get("format")
    if given:
        return str(given)
    accept = request.headers.get("Accept", "")
    if "application/json" in accept:
        return "json"
    if XLSX in accept:
        return "xlsx"
    if "text/csv" in accept:
        return "csv"
    return "json"


async def table_response(call: Call, rows: Iterable[Any], name: str) -> web.StreamResponse:
    """The one ending of every list the bureau may download (an endpoint with a `table`):
    `{"items": [...]}`, or the same rows as a download (`download`) named `name` + .csv or
    .xlsx; each row written as the table's row schema declares it."""
    table = call.endpoint.table
    assert table is not None, "table_response answers table endpoints"
    items = dump_each(table, rows, call.settings.tz)
    kind = table_format(call.request, call.query)
    if kind == "json":
        return json_response({"items": items})
    return await download(kind, items, table, name)


async def download(
    kind: str, items: Sequence[Mapping[str, Any]], schema: Schema, name: str
) -> web.Response:
    """Rows already dumped by `schema` as CSV or as a workbook, named `name` + the suffix."""
    if kind == "csv":
        return csv_response(items, columns(schema), f"{name}.csv")
    assert kind == "xlsx", kind
    cols = sheet_columns(schema)
    # Seconds for a large table (service/xlsxbook.py): off the event loop.
    body = await asyncio.to_thread(workbook, items, cols, sheet=name.removeprefix("festival-"))
    return web.Response(
        body=body,
        content_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
    )


def csv_response(
    rows: Iterable[Mapping[str, Any]], columns: Sequence[str], filename: str
) -> web.Response:
    return web.Response(
        text=BOM + csv_text(rows, columns),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def sheet_columns(schema: Schema) -> list[Column]:
    """The workbook's columns: the CSV's, each with the kind of cell its field holds."""
    return [
        Column(f.data_key or name, _kind(f.data_key or name, f))
        for name, f in schema.fields.items()
    ]


def _kind(key: str, field: fields.Field) -> Kind:
    if isinstance(field, Instant):
        return Kind.INSTANT
    if isinstance(field, Date):
        return Kind.DAY
    if isinstance(field, fields.Boolean):
        return Kind.BOOLEAN
    if isinstance(field, fields.Integer):
        if key.endswith("_fen"):
            return Kind.YUAN
        if key == "id" or key.endswith("_id"):
            return Kind.ID
        return Kind.COUNT
    if isinstance(field, fields.Float):
        return Kind.PERCENT if key.endswith("_rate") else Kind.RATIO
    return Kind.TEXT
