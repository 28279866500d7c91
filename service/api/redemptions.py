"""The merchant's checkout: preview a voucher, redeem it exactly once, look it up, reverse it."""

from __future__ import annotations

from aiohttp import web

from service import keys
from service.domain import redemptions
from service.errors import ErrorCode
from service.http import JSON, Call, Routes, idempotency_header, idempotency_key
from service.schemas.vouchers import (
    Redemption,
    RedemptionCreate,
    RedemptionList,
    RedemptionListQuery,
    Reversal,
    VoucherPreview,
)
from service.timefmt import business_day
from service.views.redemptions import preview as preview_of

routes = Routes("redemption (merchant)", roles=("merchant",))
IDEMPOTENCY_HEADER = idempotency_header(
    required=True, description="one per checkout attempt, reused on its retries"
)


def _merchant_id(call: Call) -> int:
    mid = call.me.merchant_id
    assert mid is not None  # merchant tokens always carry mid (service/auth.py)
    return mid


@routes.get(
    "/merchant/vouchers/{code}",
    summary="Cashier preview of a voucher (typed code or scanned QR string)",
    response=VoucherPreview(),
    errors=(ErrorCode.NOT_FOUND,),
)
async def preview(call: Call) -> web.StreamResponse:
    voucher, reason = await redemptions.preview(
        call.db,
        call.app[keys.SERVER_KEYS]["qr_signing"],
        merchant_id=_merchant_id(call),
        value=call.request.match_info["code"],
        now=call.clock.now(),
    )
    return call.answer(preview_of(voucher, reason))


@routes.post(
    "/merchant/redemptions",
    summary="Redeem a voucher, exactly once per key",
    body=RedemptionCreate(),
    response=Redemption(),
    status=201,
    errors=(
        ErrorCode.NOT_FOUND,
        ErrorCode.BELOW_MIN_SPEND,
        ErrorCode.ALREADY_REDEEMED,
        ErrorCode.EXPIRED,
        ErrorCode.MERCHANT_NOT_ELIGIBLE,
        ErrorCode.MERCHANT_INACTIVE,
        ErrorCode.IDEMPOTENCY_KEY_REUSED,
    ),
    extra={"headers": [IDEMPOTENCY_HEADER]},
)
async def redeem(call: Call) -> web.StreamResponse:
    checkout = redemptions.Checkout(
        merchant_id=_merchant_id(call),
        key=idempotency_key(call, required=True) or "",
        code=redemptions.parse_code(call.app[keys.SERVER_KEYS]["qr_signing"], call.body["code"]),
        order_amount_fen=call.body["order_amount_fen"],
        order_ref=call.body["order_ref"],
    )
    status, body = await call.app[keys.REDEMPTIONS].redeem(checkout)
    return web.Response(text=body, status=status, content_type=JSON)


@routes.get(
    "/merchant/redemptions",
    summary="The caller's redemptions of a day (default today), or the one made with a key",
    query=RedemptionListQuery(),
    response=RedemptionList(),
)
async def list_redemptions(call: Call) -> web.StreamResponse:
    mid, tz = _merchant_id(call), call.settings.tz
    if "idempotency_key" in call.query:
        rows = await redemptions.by_key(call.db, mid, key=call.query["idempotency_key"])
    else:
        day = call.query.get("date") or business_day(call.clock.now(), tz)
        rows = await redemptions.on_day(call.db, mid, day=day)
    completed = [r for r in rows if r["status"] == "completed"]
    totals = {
        "count": len(completed),
        "order_amount_fen": sum(r["order_amount_fen"] for r in completed),
        "discount_fen": sum(r["discount_fen"] for r in completed),
    }
    return call.answer({"items": rows, "totals": totals})


@routes.get(
    "/merchant/redemptions/{id}",
    summary="One of the caller's redemptions",
    response=Redemption(),
    errors=(ErrorCode.NOT_FOUND,),
)
async def get_redemption(call: Call) -> web.StreamResponse:
    row = await redemptions.get(call.db, _merchant_id(call), redemption_id=call.path_id())
    return call.answer(row)


@routes.post(
    "/merchant/redemptions/{id}/reversal",
    summary="Reverse a redemption on its business day; the voucher can be used again",
    body=Reversal(),
    response=Redemption(),
    errors=(
        ErrorCode.NOT_FOUND,
        ErrorCode.FORBIDDEN,
        ErrorCode.NOT_REDEEMED,
        ErrorCode.REVERSAL_WINDOW_PASSED,
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
