"""The merchant's checkout: preview a voucher, redeem it exactly once, look it up, reverse it."""

from __future__ import annotations

from aiohttp import web

from service import keys
from service.answers import redemption_json
from service.domain import redemptions
from service.http import JSON, Call, Routes, idempotency_header, idempotency_key, json_response
from service.schemas.vouchers import (
    Redemption,
    RedemptionCreate,
    RedemptionList,
    RedemptionListQuery,
    Reversal,
    VoucherPreview,
)
from service.timefmt import business_day
from service.views.redemptions import preview_json

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
    errors=("not_found",),
)
async def preview(call: Call) -> web.StreamResponse:
    voucher, reason = await redemptions.preview(
        call.db,
        call.app[keys.SERVER_KEYS]["qr_signing"],
        merchant_id=_merchant_id(call),
        value=call.request.match_info["code"],
        now=call.clock.now(),
    )
    return json_response(preview_json(voucher, reason, call.settings.tz))


@routes.post(
    "/merchant/redemptions",
    summary="Redeem a voucher, exactly once per key",
    body=RedemptionCreate(),
    response=Redemption(),
    status=201,
    errors=(
        "not_found",
        "below_min_spend",
        "already_redeemed",
        "expired",
        "merchant_not_eligible",
        "merchant_inactive",
        "idempotency_key_reused",
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
    items = [redemption_json(r, tz) for r in rows]
    completed = [i for i in items if i["status"] == "completed"]
    totals = {
        "count": len(completed),
        "order_amount_fen": sum(i["order_amount_fen"] for i in completed),
        "discount_fen": sum(i["discount_fen"] for i in completed),
    }
    return json_response({"items": items, "totals": totals})


@routes.get(
    "/merchant/redemptions/{id}",
    summary="One of the caller's redemptions",
    response=Redemption(),
    errors=("not_found",),
)
async def get_redemption(call: Call) -> web.StreamResponse:
    row = await redemptions.get(call.db, _merchant_id(call), redemption_id=call.path_id())
    return json_response(redemption_json(row, call.settings.tz))


@routes.post(
    "/merchant/redemptions/{id}/reversal",
    summary="Reverse a redemption on its business day; the voucher can be used again",
    body=Reversal(),
    response=Redemption(),
    errors=("not_found", "forbidden", "not_redeemed", "reversal_window_passed"),
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
    return json_response(redemption_json(row, tz))
