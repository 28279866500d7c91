"""Paying merchants (bureau): bank files out (kept, idempotent), the bank's returns in."""

from __future__ import annotations

from aiohttp import web

from service.csvout import table_response
from service.domain import payments
from service.http import Call, Routes, idempotency_header, idempotency_key, json_response
from service.schemas.payments import (
    Export,
    ExportRequest,
    ExportRow,
    ExportsQuery,
    ReturnsApplied,
)
from service.views.ledger import export_json

routes = Routes("payments (bureau)", roles=("bureau",))


@routes.post(
    "/admin/payments/exports",
    summary="A bank file paying each merchant owed something and not held its whole balance",
    body=ExportRequest(),
    body_optional=True,
    response=Export(),
    status=201,
    errors=("invalid_request",),
    extra={
        "headers": [
            idempotency_header(
                required=True, description="one per export; a retry answers the same file"
            )
        ]
    },
)
async def export(call: Call) -> web.StreamResponse:
    made = await payments.export(call.context, idempotency_key(call, required=True) or "")
    return json_response(export_json(made, call.settings.tz), status=201)


@routes.get(
    "/admin/payments/exports",
    summary="The bank files, newest first, with what the bank has answered",
    query=ExportsQuery(),
    table=ExportRow(),
)
async def list_exports(call: Call) -> web.StreamResponse:
    found = await payments.exports(call.db, call.query["limit"])
    items = [export_json(e, call.settings.tz) for e in found]
    return table_response(call, items, "festival-bank-files.csv")


@routes.get(
    "/admin/payments/exports/{id}/file",
    summary="A kept bank file: the same bytes every time (X-Content-SHA256 is their hash)",
    produces_csv=True,
    errors=("not_found",),
)
async def export_file(call: Call) -> web.StreamResponse:
    bank_file_id = call.path_id()
    content, sha256 = await payments.file(call.db, bank_file_id)
    return web.Response(
        body=content,
        content_type="text/csv",
        charset="utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="festival-bank-file-{bank_file_id}.csv"',
            "X-Content-SHA256": sha256,
            "Cache-Control": "no-store",
        },
    )


@routes.put(
    "/admin/payments/returns",
    summary="The bank's return file (CSV reference,status[,amount_yuan]); all rows or none",
    raw_body="text/csv",
    response=ReturnsApplied(),
    errors=("invalid_request", "already_returned"),
)
async def put_returns(call: Call) -> web.StreamResponse:
    rows = payments.parse_returns(await call.csv_text())
    applied = await payments.apply_returns(call.context, rows)
    return json_response(applied)
