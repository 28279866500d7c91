"""Sign-in endpoints for merchants, the bureau and residents."""

from __future__ import annotations

from aiohttp import web

from service import keys
from service.domain import logins
from service.errors import ErrorCode
from service.http import PUBLIC, Call, Routes, json_response
from service.schemas.auth import (
    BureauLogin,
    MerchantLogin,
    OtpAccepted,
    OtpRequest,
    ResidentLogin,
    Whoami,
)
from service.schemas.common import TokenResponse

routes = Routes("login", roles=PUBLIC)


def client_ip(call: Call) -> str:
    if call.settings.trust_forwarded_for:
        forwarded = call.request.headers.get("X-Forwarded-For", "")
        first = forwarded.split(",")[0].strip()
        if first:
            return first[:64]
    return call.request.remote or "unknown"


def sign_in(call: Call) -> logins.SignIn:
    pepper = call.app[keys.SERVER_KEYS]["phone_pepper"]
    # Real time, whatever a drill's clock says: login codes expire and limits reset for people.
    return logins.SignIn(
        call.db,
        call.settings,
        pepper,
        client_ip(call),
        call.clock.real_now(),
        phones=call.app[keys.PHONES],
    )


@routes.post(
    "/auth/merchant",
    summary="Merchant sign-in with its api key",
    body=MerchantLogin(),
    response=TokenResponse(),
    errors=(ErrorCode.UNAUTHORIZED, ErrorCode.RATE_LIMITED),
)
async def merchant_login(call: Call) -> web.StreamResponse:
    return json_response(await sign_in(call).merchant(**call.body))


@routes.post(
    "/auth/bureau",
    summary="Commerce bureau sign-in",
    body=BureauLogin(),
    response=TokenResponse(),
    errors=(ErrorCode.UNAUTHORIZED, ErrorCode.RATE_LIMITED),
)
async def bureau_login(call: Call) -> web.StreamResponse:
    return json_response(await sign_in(call).bureau(**call.body))


@routes.post(
    "/auth/otp",
    summary="Send a 6-digit login code by SMS",
    body=OtpRequest(),
    response=OtpAccepted(),
    status=202,
    errors=(ErrorCode.RATE_LIMITED,),
)
async def request_otp(call: Call) -> web.StreamResponse:
    return json_response(await sign_in(call).request_code(call.app[keys.SMS], **call.body), 202)


@routes.post(
    "/auth/resident",
    summary="Resident sign-in with the SMS code",
    body=ResidentLogin(),
    response=TokenResponse(),
    errors=(ErrorCode.UNAUTHORIZED, ErrorCode.RATE_LIMITED),
)
async def resident_login(call: Call) -> web.StreamResponse:
    return json_response(await sign_in(call).resident(**call.body))


@routes.get(
    "/auth/me",
    roles=("resident", "merchant", "bureau"),
    summary="Who this token belongs to",
    response=Whoami(),
)
async def whoami(call: Call) -> web.StreamResponse:
    me = call.me
    return json_response({"role": me.role, "sub": me.sub, "merchant_id": me.merchant_id})
