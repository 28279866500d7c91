"""Joining (商户报名): applying (no token: a phone proved by an SMS code) and the bureau's
review, whose approval creates the merchant."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from service import keys
from service.api.logins import sign_in
from service.csvout import table_response
from service.db import Conn
from service.domain import applications
from service.errors import ErrorCode
from service.http import PUBLIC, Call, Routes
from service.schemas.applications import (
    Application,
    ApplicationCreate,
    ApplicationQuery,
    ApplicationReview,
    ApplicationReviewed,
    ApplicationSubmitted,
)
from service.views.applications import application

routes = Routes("joining", roles=("bureau",))


@routes.post(
    "/merchant-applications",
    roles=PUBLIC,
    summary="Apply to join as a merchant with the SMS code sent to contact_phone"
    " (401: the code is wrong, expired, spent or locked)",
    body=ApplicationCreate(),
    response=ApplicationSubmitted(),
    status=201,
    # 401: the SMS code is wrong, expired, spent or locked (as at the residents' sign-in).
    errors=(ErrorCode.UNAUTHORIZED, ErrorCode.DUPLICATE_APPLICATION, ErrorCode.RATE_LIMITED),
)
async def submit_application(call: Call) -> web.StreamResponse:
    body = call.body
    now = call.clock.now()

    async def submit(tx: Conn) -> Any:
        return await applications.submit(tx, body, now=now)

    row = await sign_in(call).with_code(body["contact_phone"], body["code"], submit)
    return call.answer(row)


@routes.get(
    "/admin/merchant-applications",
    summary="Applications to join, oldest first (phones and accounts masked; CSV too)",
    query=ApplicationQuery(),
    table=Application(),
)
async def list_applications(call: Call) -> web.StreamResponse:
    rows = await applications.applications(
        call.db, call.query.get("status"), limit=call.query["limit"]
    )
    return await table_response(call, [application(r) for r in rows], "festival-applications.csv")


@routes.post(
    "/admin/merchant-applications/{id}/review",
    summary="Approve (creating the merchant) or reject a pending application, once",
    body=ApplicationReview(),
    response=ApplicationReviewed(),
    errors=(
        ErrorCode.NOT_FOUND,
        ErrorCode.ALREADY_REVIEWED,
        ErrorCode.DUPLICATE_APPLICATION,
        ErrorCode.CONFLICT,
    ),
)
async def review_application(call: Call) -> web.StreamResponse:
    decided = await applications.review(
        call.context,
        application_id=call.path_id(),
        decision=call.body["decision"],
        note=call.body["note"],
        phones=call.app[keys.PHONES],
    )
    return call.answer(application(decided.application, message=decided.message))
