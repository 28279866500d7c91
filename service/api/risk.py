"""Cash-out risk (bureau): flags with their evidence, review, and the release of holds."""

from __future__ import annotations

from aiohttp import web

from service.csvout import table_response
from service.domain import risk
from service.errors import ErrorCode
from service.http import Call, Routes
from service.schemas.risk import Flag, FlagQuery, Release, Released, Review, Reviewed, Timeline

routes = Routes("risk (bureau)", roles=("bureau",))


@routes.get(
    "/admin/risk/flags",
    summary="Cash-out flags raised by risk_scan, newest first (CSV or Excel with ?format=csv|xlsx)",
    query=FlagQuery(),
    table=Flag(),
)
async def list_flags(call: Call) -> web.StreamResponse:
    q = call.query
    found = await risk.flags(
        call.db,
        q.get("status"),
        merchant_id=q.get("merchant_id"),
        rule=q.get("rule"),
        limit=q["limit"],
    )
    return await table_response(call, found, "festival-risk-flags")


@routes.get(
    "/admin/risk/flags/{id}/timeline",
    summary="The flagged merchant's redemptions: per day for two weeks, per window that day",
    response=Timeline(),
    errors=(ErrorCode.NOT_FOUND,),
)
async def flag_timeline(call: Call) -> web.StreamResponse:
    found = await risk.timeline(call.db, call.path_id(), minutes=call.settings.risk.burst_minutes)
    return call.answer(found)


@routes.post(
    "/admin/risk/flags/{id}/review",
    summary="Dismiss or confirm an open flag; a confirmed flag holds the merchant's payouts",
    body=Review(),
    response=Reviewed(),
    errors=(
        ErrorCode.INVALID_REQUEST,
        ErrorCode.NOT_FOUND,
        ErrorCode.ALREADY_REVIEWED,
        ErrorCode.FLAG_PROVISIONAL,
        ErrorCode.FLAG_WITHDRAWN,
    ),
)
async def review_flag(call: Call) -> web.StreamResponse:
    flag = await risk.review(
        call.context, flag_id=call.path_id(), decision=call.body["decision"], note=call.body["note"]
    )
    return call.answer(flag)


@routes.post(
    "/admin/risk/flags/{id}/release",
    summary="End a confirmed flag's hold, optionally clawing back the flagged subsidy",
    body=Release(),
    response=Released(),
    errors=(ErrorCode.INVALID_REQUEST, ErrorCode.NOT_FOUND, ErrorCode.CONFLICT),
)
async def release_flag(call: Call) -> web.StreamResponse:
    result = await risk.release(
        call.context, flag_id=call.path_id(), clawback=call.body["clawback"], note=call.body["note"]
    )
    return call.answer(result)
