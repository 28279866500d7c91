"""The money ledger (bureau): balances, transfers, verify; statements (对账单) for the bureau
and for the merchant itself."""

from __future__ import annotations

from aiohttp import web

from service.csvout import table_response
from service.domain import ledger
from service.errors import ErrorCode
from service.http import Call, Routes, json_response
from service.schemas.ledger import (
    Balances,
    BalancesQuery,
    StatementDay,
    StatementQuery,
    Transfer,
    TransfersQuery,
    Verified,
)
from service.views.ledger import statement_day

routes = Routes("money ledger", roles=("bureau",))


@routes.get(
    "/admin/ledger/balances",
    summary="Every account's balance (filters: merchant, kind, receivables only)",
    query=BalancesQuery(),
    response=Balances(),
)
async def balances(call: Call) -> web.StreamResponse:
    q = call.query
    found = await ledger.balances(
        call.db, q.get("merchant_id"), kind=q.get("kind"), negative=q.get("negative") == "true"
    )
    return json_response(found)


@routes.get(
    "/admin/ledger/transfers",
    summary="Transfers, oldest first (default the last 31 business days); CSV or Excel with ?format=csv|xlsx",
    query=TransfersQuery(),
    table=Transfer(),
)
async def transfers(call: Call) -> web.StreamResponse:
    start, to = call.day_range(31)
    q = call.query
    rows = await ledger.transfers(
        call.db,
        q.get("merchant_id"),
        kind=q.get("kind"),
        from_day=start,
        to_day=to,
        limit=q["limit"],
    )
    return await table_response(call, rows, f"festival-transfers-{start}-{to}")


@routes.get(
    "/admin/ledger/verify",
    summary="Prove the ledger against the redemptions, clawbacks and bank records (409: not)",
    response=Verified(),
    also=(409,),
)
async def verify(call: Call) -> web.StreamResponse:
    result = await ledger.verify(call.db)
    return json_response(result.answer(), status=200 if result.ok else 409)


async def _statement(call: Call, merchant_id: int) -> web.StreamResponse:
    start, to = call.day_range(31)
    rows = await ledger.statement(call.db, merchant_id, from_day=start, to_day=to)
    return await table_response(
        call, [statement_day(r) for r in rows], f"statement-{merchant_id}-{start}-{to}"
    )


@routes.get(
    "/admin/merchants/{id}/statement",
    summary="A merchant's 对账单 per business day (default the last 31); CSV or Excel with ?format=csv|xlsx",
    query=StatementQuery(),
    table=StatementDay(),
    errors=(ErrorCode.NOT_FOUND,),
)
async def merchant_statement(call: Call) -> web.StreamResponse:
    return await _statement(call, call.path_id())


@routes.get(
    "/merchant/statement",
    roles=("merchant",),
    summary="The caller's 对账单 per business day (default the last 31); CSV or Excel with ?format=csv|xlsx",
    query=StatementQuery(),
    table=StatementDay(),
)
async def own_statement(call: Call) -> web.StreamResponse:
    mid = call.me.merchant_id
    assert mid is not None
    return await _statement(call, mid)
