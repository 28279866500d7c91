"""Paying merchants (bureau): bank files out, the bank's returns in, the reconciliation."""

from __future__ import annotations

from aiohttp import web

from service.csvout import csv_response
from service.domain import payments
from service.http import Call, Routes, json_response
from service.schemas.payments import (
    ExportRequest,
    Reconciliation,
    ReconciliationQuery,
    ReturnsApplied,
)

routes = Routes("payments (bureau)", roles=("bureau",))


@routes.post(
    "/admin/payments/exports",
    summary="A settled day's pending lines as a bank file (CSV); each line goes out once",
    body=ExportRequest(),
    produces_csv=True,
    status=201,
    errors=("invalid_request", "conflict"),
)
async def export(call: Call) -> web.StreamResponse:
    day = call.body["date"]
    rows, left_out = await payments.export(call.db, day, call.actor, call.clock.now())
    response = csv_response(
        rows, payments.BANK_FILE_COLUMNS, f"festival-payments-{day.isoformat()}.csv"
    )
    response.set_status(201)
    # Lines left in pending (no account yet, or nothing to pay), for the operator.
    response.headers["X-Left-Out"] = ",".join(str(r["merchant_id"]) for r in left_out)
    return response


@routes.put(
    "/admin/payments/returns",
    summary="The bank's return file (CSV reference,status[,amount_yuan]); all rows or none",
    raw_body="text/csv",
    response=ReturnsApplied(),
    errors=("invalid_request",),
)
async def put_returns(call: Call) -> web.StreamResponse:
    rows = payments.parse_returns(await call.csv_text())
    applied = await payments.apply_returns(call.db, rows, call.actor, call.clock.now())
    return json_response({"rows": applied})


@routes.get(
    "/admin/payments/reconciliation",
    summary="A day's lines by payment status, in fen, and whether they add up",
    query=ReconciliationQuery(),
    response=Reconciliation(),
)
async def reconciliation(call: Call) -> web.StreamResponse:
    return json_response(await payments.reconciliation(call.db, call.query["date"]))
