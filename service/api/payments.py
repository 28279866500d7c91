"""Paying merchants (bureau): bank files out (kept, idempotent), the bank's returns in."""

from __future__ import annotations

from aiohttp import web

from service.csvout import table_response
from service.domain import payments
from service.domain.payments import Return
from service.errors import ErrorCode
from service.http import Call, Routes, idempotency_header, idempotency_key, json_response
from service.schemas.common import read_rows, refuse_bad_lines
from service.schemas.payments import (
    MAX_RETURN_ROWS,
    Export,
    ExportRequest,
    ExportRow,
    ExportsQuery,
    ReturnRow,
    ReturnsApplied,
)

routes = Routes("payments (bureau)", roles=("bureau",))


@routes.post(
    "/admin/payments/exports",
    summary="A bank file paying each merchant owed something and not held its whole balance",
    body=ExportRequest(),
    body_optional=True,
    response=Export(),
    status=201,
    errors=(ErrorCode.INVALID_REQUEST,),
    extra={
        "headers": [
            idempotency_header(
                required=True, description="one per export; a retry answers the same file"
            )
        ]
    },
)
async def export(call: Call) -> web.StreamResponse:
    made = await payments.export(call.context, key=idempotency_key(call, required=True) or "")
    return call.answer(made)


@routes.get(
    "/admin/payments/exports",
    summary="The bank files, newest first, with what the bank has answered",
    query=ExportsQuery(),
    table=ExportRow(),
)
async def list_exports(call: Call) -> web.StreamResponse:
    found = await payments.exports(call.db, call.query["limit"])
    return await table_response(call, found, "festival-bank-files")


@routes.get(
    "/admin/payments/exports/{id}/file",
    summary="A kept bank file: the same bytes every time (X-Content-SHA256 is their hash)",
    produces_csv=True,
    errors=(ErrorCode.NOT_FOUND,),
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
    errors=(ErrorCode.INVALID_REQUEST, ErrorCode.ALREADY_RETURNED),
)
async def put_returns(call: Call) -> web.StreamResponse:
    rows = read_returns(await call.csv_text())
    applied = await payments.apply_returns(call.context, rows=rows)
    return json_response(applied)


def read_returns(text: str) -> list[Return]:
    """A return file's rows, or a DomainError naming every bad line (1 = the header)."""
    rows: list[Return] = []
    errors: dict[str, list[str]] = {}
    seen: dict[str, int] = {}
    for number, row, problems in read_rows(text, ReturnRow()):
        if "reference" in row:
            ref = row["reference"]
            if ref in seen:
                problems.insert(0, f"repeats line {seen[ref]} ({ref}).")
            else:
                seen[ref] = number
        if problems:
            errors[str(number)] = problems
        else:
            rows.append(Return(row["reference"], row["status"], row.get("amount_yuan"), number))
    refuse_bad_lines(len(rows), errors, MAX_RETURN_ROWS)
    return rows
