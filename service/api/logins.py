"""Sign-in endpoints for merchants, the bureau and residents."""

from __future__ import annotations

from aiohttp import web

from service import keys
from service.domain import cashiers, logins, merchants
from service.domain.context import Actor, Context
from service.errors import ErrorCode
from service.http import PUBLIC, Call, Routes, json_response
from service.schemas.auth import (
    BureauLogin,
    MerchantKeyIssued,
    MerchantKeyRequest,
    MerchantLogin,
    OtpAccepted,
    OtpRequest,
    PairingLogin,
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
    "/auth/cashier-pairing",
    summary="A cashier's device signs in with the owner's pairing code (one use, 5 minutes)",
    body=PairingLogin(),
    response=TokenResponse(),
    errors=(ErrorCode.UNAUTHORIZED, ErrorCode.RATE_LIMITED),
)
async def pairing_login(call: Call) -> web.StreamResponse:
    return json_response(await sign_in(call).pairing(**call.body))


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


@routes.post(
    "/auth/merchant-key",
    summary="A fresh owner api key for a merchant, to its contact phone's SMS code (shown once)",
    body=MerchantKeyRequest(),
    response=MerchantKeyIssued(),
    errors=(ErrorCode.UNAUTHORIZED, ErrorCode.RATE_LIMITED),
)
async def merchant_key(call: Call) -> web.StreamResponse:
    """An approved applicant's first key, or a lost one replaced: whoever holds the contact
    phone. The key is in this answer only (no-store), never in an SMS."""
    merchant_id = call.body["merchant_id"]
    ctx = Context(
        db=call.db,
        actor=Actor(f"merchant:{merchant_id}", call.request.get(keys.REQUEST_ID)),
        now=call.clock.now(),
        tz=call.settings.tz,
    )
    issued = await sign_in(call).merchant_key(
        ctx, merchant_id, phone=call.body["phone"], code=call.body["code"]
    )
    return call.answer(issued)


@routes.get(
    "/auth/me",
    roles=("resident", "merchant", "bureau"),
    cashiers=True,
    summary="Who this token belongs to (a merchant's cashier: which one)",
    response=Whoami(),
)
async def whoami(call: Call) -> web.StreamResponse:
    me = call.me
    found = {"role": me.role, "sub": me.sub, "merchant_id": me.merchant_id}
    if me.merchant_id is not None:
        # The shop's name for the cashier page's header (商户 19 tells a cashier nothing).
        found["merchant_name"] = (await merchants.get_merchant(call.db, me.merchant_id))["name"]
    if me.cashier_id is not None and me.merchant_id is not None:
        name = await cashiers.check_live(call.db, me.merchant_id, cashier_id=me.cashier_id)
        found |= {"cashier_id": me.cashier_id, "cashier_name": name}
    return json_response(found)
