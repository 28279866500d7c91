"""Sign-in endpoints for merchants, the bureau and residents."""

from __future__ import annotations

from aiohttp import web

from service import keys
from service.domain import logins
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

routes = Routes("login")


def client_ip(call: Call) -> str:
    if call.settings.trust_forwarded_for:
        forwarded = call.request.headers.get("X-Forwarded-For", "")
        first = forwarded.split(",")[0].strip()
        if first:
            return first[:64]
    return call.request.remote or "unknown"


@routes.post(
    "/auth/merchant",
    roles=PUBLIC,
    summary="Merchant sign-in with its api key",
    body=MerchantLogin(),
    response=TokenResponse(),
    errors=("unauthorized", "rate_limited"),
)
async def merchant_login(call: Call) -> web.StreamResponse:
    body = await logins.merchant_login(
        call.db,
        call.settings,
        call.body["merchant_id"],
        call.body["api_key"],
        client_ip(call),
        call.clock.now(),
    )
    return json_response(body)


@routes.post(
    "/auth/bureau",
    roles=PUBLIC,
    summary="Commerce bureau sign-in",
    body=BureauLogin(),
    response=TokenResponse(),
    errors=("unauthorized", "rate_limited"),
)
async def bureau_login(call: Call) -> web.StreamResponse:
    body = await logins.bureau_login(
        call.db,
        call.settings,
        call.body["username"],
        call.body["password"],
        client_ip(call),
        call.clock.now(),
    )
    return json_response(body)


@routes.post(
    "/auth/otp",
    roles=PUBLIC,
    summary="Send a 6-digit login code by SMS",
    body=OtpRequest(),
    response=OtpAccepted(),
    status=202,
    errors=("rate_limited",),
)
async def request_otp(call: Call) -> web.StreamResponse:
    body = await logins.request_login_code(
        call.db,
        call.app[keys.SERVER_KEYS]["phone_pepper"],
        call.app[keys.SMS],
        call.body["phone"],
        client_ip(call),
        call.clock.now(),
    )
    return json_response(body, 202)


@routes.post(
    "/auth/resident",
    roles=PUBLIC,
    summary="Resident sign-in with the SMS code",
    body=ResidentLogin(),
    response=TokenResponse(),
    errors=("unauthorized", "rate_limited"),
)
async def resident_login(call: Call) -> web.StreamResponse:
    body = await logins.resident_login(
        call.db,
        call.settings,
        call.app[keys.SERVER_KEYS]["phone_pepper"],
        call.body["phone"],
        call.body["code"],
        client_ip(call),
        call.clock.now(),
    )
    return json_response(body)


@routes.get(
    "/auth/me",
    roles=("resident", "merchant", "bureau"),
    summary="Who this token belongs to",
    response=Whoami(),
)
async def whoami(call: Call) -> web.StreamResponse:
    me = call.me
    return json_response({"role": me.role, "sub": me.sub, "merchant_id": me.merchant_id})
