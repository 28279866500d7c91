"""The merchant's checkout: preview a voucher (or a checkout of several), redeem exactly once,
look it up, reverse it. The merchant's cashiers may use all of it (service/http.py)."""

from __future__ import annotations

from aiohttp import web

from service import keys
from service.csvout import download, table_format
from service.domain import redemptions
from service.domain.codes import is_checkout_qr
from service.errors import DomainError, ErrorCode
from service.http import JSON, Call, Routes, idempotency_header, idempotency_key
from service.schemas.dump import dump_each
from service.schemas.vouchers import (
    CheckoutPreview,
    CheckoutPreviewQuery,
    Redemption,
    RedemptionCreate,
    RedemptionList,
    RedemptionListQuery,
    RedemptionOrCheckout,
    Reversal,
    VoucherPreview,
)
from service.timefmt import business_day
from service.views.redemptions import checkout_preview
from service.views.redemptions import preview as preview_of

routes = Routes("redemption (merchant)", roles=("merchant",))
IDEMPOTENCY_HEADER = idempotency_header(
    required=True, description="one per checkout attempt, reused on its retries"
)


def _merchant_id(call: Call) -> int:
    mid = call.me.merchant_id
    assert mid is not None  # merchant tokens always carry mid (service/auth.py)
    return mid


def _qr_key(call: Call) -> bytes:
    return call.app[keys.SERVER_KEYS]["qr_signing"]


@routes.get(
    "/merchant/vouchers/{code}",
    cashiers=True,
    summary="Cashier preview of a voucher (typed code or scanned QR string)",
    response=VoucherPreview(),
    errors=(ErrorCode.NOT_FOUND,),
)
async def preview(call: Call) -> web.StreamResponse:
    voucher, reason = await redemptions.preview(
        call.db,
        _qr_key(call),
        merchant_id=_merchant_id(call),
        value=call.request.match_info["code"],
        now=call.clock.now(),
    )
    return call.answer(preview_of(voucher, reason))


@routes.get(
    "/merchant/checkout-preview",
    cashiers=True,
    summary="Cashier preview of a checkout of several vouchers (a scanned checkout QR, or typed"
    " codes): each voucher, whether this merchant may redeem it, and their totals",
    query=CheckoutPreviewQuery(),
    response=CheckoutPreview(),
    errors=(ErrorCode.NOT_FOUND, ErrorCode.EXPIRED),
)
async def preview_checkout(call: Call) -> web.StreamResponse:
    now = call.clock.now()
    expires = None
    if "qr" in call.query:
        codes, expires = redemptions.parse_checkout_qr(_qr_key(call), call.query["qr"])
        if now > expires:
            raise redemptions.qr_expired(expires, call.settings.tz)
    else:
        codes = redemptions.parse_codes(_qr_key(call), call.query["codes"])
    found = await redemptions.preview_many(
        call.db, merchant_id=_merchant_id(call), codes=codes, now=now
    )
    return call.answer(checkout_preview(found, expires))


@routes.post(
    "/merchant/redemptions",
    cashiers=True,
    checks_cashier=True,  # in the flush's context statement: no round trip more
    summary="Redeem a voucher (`code`: a redemption), or several of one category in one"
    " checkout (`codes` or a resident's checkout `qr`: a checkout, all or none), exactly once"
    " per key",
    body=RedemptionCreate(),
    response=RedemptionOrCheckout,
    status=201,
    errors=(
        ErrorCode.NOT_FOUND,
        ErrorCode.BELOW_MIN_SPEND,
        ErrorCode.ALREADY_REDEEMED,
        ErrorCode.EXPIRED,
        ErrorCode.MERCHANT_NOT_ELIGIBLE,
        ErrorCode.MERCHANT_INACTIVE,
        ErrorCode.MERCHANT_CAP_REACHED,
        ErrorCode.IDEMPOTENCY_KEY_REUSED,
    ),
    extra={"headers": [IDEMPOTENCY_HEADER]},
)
async def redeem(call: Call) -> web.StreamResponse:
    body, qr_key = call.body, _qr_key(call)
    checkout = dict(
        merchant_id=_merchant_id(call),
        key=idempotency_key(call, required=True) or "",
        order_amount_fen=body["order_amount_fen"],
        order_ref=body["order_ref"],
        cashier_id=call.me.cashier_id,
        metadata=body.get("metadata") or None,
    )
    if "code" in body:
        if is_checkout_qr(body["code"]):
            raise DomainError(
                ErrorCode.INVALID_REQUEST,
                "a checkout QR of several vouchers goes in `qr`",
                {"code": ["A checkout QR of several vouchers goes in qr."]},
            )
        request = redemptions.Checkout(
            code=redemptions.parse_code(qr_key, body["code"]), **checkout
        )
    elif "codes" in body:
        several = redemptions.parse_codes(qr_key, body["codes"])
        request = redemptions.Checkout(code="", several=several, **checkout)
    else:
        several, expires = redemptions.parse_checkout_qr(qr_key, body["qr"])
        request = redemptions.Checkout(code="", several=several, qr_expires_at=expires, **checkout)
    status, text = await call.app[keys.REDEMPTIONS].redeem(request)
    return web.Response(text=text, status=status, content_type=JSON)


@routes.get(
    "/merchant/redemptions",
    cashiers=True,
    summary="The caller's redemptions of a day (default today), or the ones made with a key;"
    " the items as CSV or Excel with ?format=csv|xlsx",
    query=RedemptionListQuery(),
    response=RedemptionList(),
    produces_csv=True,
    produces_xlsx=True,
)
async def list_redemptions(call: Call) -> web.StreamResponse:
    mid, tz = _merchant_id(call), call.settings.tz
    if "idempotency_key" in call.query:
        rows = await redemptions.by_key(call.db, mid, key=call.query["idempotency_key"])
        name = f"redemptions-{mid}-by-key"
    else:
        day = call.query.get("date") or business_day(call.clock.now(), tz)
        rows = await redemptions.on_day(call.db, mid, day=day)
        name = f"redemptions-{mid}-{day}"
    kind = table_format(call.request, call.query)
    if kind != "json":
        return await download(kind, dump_each(REDEMPTION, rows, tz), REDEMPTION, name)
    completed = [r for r in rows if r["status"] == "completed"]
    totals = {
        "count": len(completed),
        "order_amount_fen": sum(r["order_amount_fen"] for r in completed),
        "discount_fen": sum(r["discount_fen"] for r in completed),
    }
    return call.answer({"items": rows, "totals": totals})


REDEMPTION = Redemption()


@routes.get(
    "/merchant/redemptions/{id}",
    cashiers=True,
    summary="One of the caller's redemptions",
    response=Redemption(),
    errors=(ErrorCode.NOT_FOUND,),
)
async def get_redemption(call: Call) -> web.StreamResponse:
    row = await redemptions.get(call.db, _merchant_id(call), redemption_id=call.path_id())
    return call.answer(row)


@routes.post(
    "/merchant/redemptions/{id}/reversal",
    cashiers=True,
    summary="Reverse a redemption on its business day (an item of a checkout of several"
    " vouchers: the whole checkout); the vouchers can be used again",
    body=Reversal(),
    response=Redemption(),
    errors=(
        ErrorCode.NOT_FOUND,
        ErrorCode.FORBIDDEN,
        ErrorCode.NOT_REDEEMED,
        ErrorCode.REVERSAL_WINDOW_PASSED,
        ErrorCode.ALREADY_CLAWED_BACK,
    ),
)
async def reverse(call: Call) -> web.StreamResponse:
    tz = call.settings.tz
    row = await redemptions.reverse(
        call.db,
        _merchant_id(call),
        redemption_id=call.path_id(),
        reason=call.body["reason"],
        now=call.clock.now(),
        tz=tz,
    )
    return call.answer(row)
