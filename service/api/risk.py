"""Cash-out risk (bureau): flags with their evidence, review, and the release of holds."""

from __future__ import annotations

from aiohttp import web

from service.csvout import table_response
from service.domain import risk
from service.http import Call, Routes, json_response
from service.schemas.risk import Flag, FlagQuery, Release, Released, Review, Reviewed, Timeline
from service.views.risk import flag_json, timeline_json

routes = Routes("risk (bureau)", roles=("bureau",))


@routes.get(
    "/admin/risk/flags",
    summary="Cash-out flags raised by risk_scan, newest first (CSV with ?format=csv)",
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
    items = [flag_json(f, call.settings.tz) for f in found]
    return table_response(call, items, "festival-risk-flags.csv")


@routes.get(
    "/admin/risk/flags/{id}/timeline",
    summary="The flagged merchant's redemptions: per day for two weeks, per window that day",
    response=Timeline(),
    errors=("not_found",),
)
async def flag_timeline(call: Call) -> web.StreamResponse:
    found = await risk.timeline(call.db, call.path_id(), minutes=call.settings.risk.burst_minutes)
    return json_response(timeline_json(found, call.settings.tz))


@routes.post(
    "/admin/risk/flags/{id}/review",
    summary="Dismiss or confirm an open flag; a confirmed flag holds the merchant's payouts",
    body=Review(),
    response=Reviewed(),
    errors=(
        "invalid_request",
        "not_found",
        "already_reviewed",
        "flag_provisional",
        "flag_withdrawn",
    ),
)
async def review_flag(call: Call) -> web.StreamResponse:
    flag = await risk.review(
        call.context, call.path_id(), decision=call.body["decision"], note=call.body["note"]
    )
    return json_response(flag_json(flag, call.settings.tz))


@routes.post(
    "/admin/risk/flags/{id}/release",
    summary="End a confirmed flag's hold, optionally clawing back the flagged subsidy",
    body=Release(),
    response=Released(),
    errors=("invalid_request", "not_found", "conflict"),
)
async def release_flag(call: Call) -> web.StreamResponse:
    result = await risk.release(
        call.context, call.path_id(), clawback=call.body["clawback"], note=call.body["note"]
    )
    return json_response({**result, "flag": flag_json(result["flag"], call.settings.tz)})
