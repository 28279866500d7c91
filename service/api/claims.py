"""Claiming vouchers and the resident's wallet."""

from __future__ import annotations

import io

import segno
from aiohttp import web
from marshmallow import Schema

from service import keys
from service.domain import vouchers
from service.domain.claims import Stored
from service.domain.codes import normalize
from service.domain.redemptions import checkout_qr as checkout_qr_of
from service.errors import DomainError, ErrorCode
from service.http import JSON, Call, Routes, idempotency_header, idempotency_key
from service.schemas.common import OneOf, QueryInt
from service.schemas.vouchers import CheckoutQr, CheckoutQrQuery, Voucher
from service.views.vouchers import voucher
from service.vocabulary import VOUCHER_STATUSES

routes = Routes("vouchers (resident)", roles=("resident",))


class WalletQuery(Schema):
    status = OneOf(VOUCHER_STATUSES)
    limit = QueryInt(minimum=1, maximum=500, load_default=200)


@routes.post(
    "/batches/{id}/claims",
    extra={
        "headers": [
            idempotency_header(
                required=False,
                description="optional, one per tap: a retry with it never claims twice",
            )
        ]
    },
    summary="Claim a voucher of an open batch",
    response=Voucher(),
    status=201,
    checks_binding=True,  # in the claim's own transaction: no query more on the hot path
    errors=(
        ErrorCode.INVALID_REQUEST,
        ErrorCode.NOT_FOUND,
        ErrorCode.NOT_OPEN,
        ErrorCode.CLOSED,
        ErrorCode.SOLD_OUT,
        ErrorCode.LIMIT_REACHED,
        ErrorCode.IDEMPOTENCY_KEY_REUSED,
        ErrorCode.UNAVAILABLE,
    ),
)
async def claim(call: Call) -> web.StreamResponse:
    key = idempotency_key(call, required=False)
    me = call.me
    claimed = await call.app[keys.CLAIMS].claim(call.path_id(), me.sub, key=key, person=me.person)
    if isinstance(claimed, Stored):  # a keyed claim: the answer stored with it, byte for byte
        return web.Response(text=claimed.text, status=claimed.status, content_type=JSON)
    qr_key = call.app[keys.SERVER_KEYS]["qr_signing"]
    return call.answer(voucher(claimed, qr_key))


@routes.get(
    "/me/vouchers",
    summary="The caller's vouchers, newest first",
    query=WalletQuery(),
    response=Voucher(many=True),
)
async def wallet(call: Call) -> web.StreamResponse:
    rows = await vouchers.wallet(
        call.db,
        call.me.sub,
        now=call.clock.now(),
        status=call.query.get("status"),
        limit=call.query["limit"],
    )
    qr_key = call.app[keys.SERVER_KEYS]["qr_signing"]
    return call.answer([voucher(r, qr_key) for r in rows])


async def _own_voucher(call: Call) -> dict:
    # Someone else's voucher is simply not found: no hint that the code exists.
    code = normalize(call.request.match_info["code"])
    row = code and await vouchers.wallet_voucher(
        call.db, call.me.sub, code=code, now=call.clock.now()
    )
    if not row:
        raise DomainError(ErrorCode.NOT_FOUND, "no such voucher in your wallet")
    return dict(row)


@routes.get(
    "/me/vouchers/{code}",
    summary="One of the caller's vouchers",
    response=Voucher(),
    errors=(ErrorCode.NOT_FOUND,),
)
async def wallet_voucher(call: Call) -> web.StreamResponse:
    row = await _own_voucher(call)
    qr_key = call.app[keys.SERVER_KEYS]["qr_signing"]
    return call.answer(voucher(row, qr_key))


@routes.get(
    "/me/vouchers/{code}/qr.svg",
    summary="The voucher's QR code (SVG)",
    errors=(ErrorCode.NOT_FOUND,),
    extra={"produces": "image/svg+xml"},
)
async def wallet_voucher_qr(call: Call) -> web.StreamResponse:
    row = await _own_voucher(call)
    qr_key = call.app[keys.SERVER_KEYS]["qr_signing"]
    buffer = io.BytesIO()
    segno.make(voucher(row, qr_key)["qr"], error="m").save(
        buffer, kind="svg", scale=8, border=4, xmldecl=False, title=row["code"]
    )
    return web.Response(
        body=buffer.getvalue(),
        content_type="image/svg+xml",
        headers={"Cache-Control": "private, max-age=300"},
    )


@routes.get(
    "/me/checkout-qr",
    summary="One QR code for several of the caller's active vouchers of one category (合并使用),"
    " signed, valid 10 minutes: the merchant scans it into POST /merchant/redemptions qr",
    query=CheckoutQrQuery(),
    response=CheckoutQr(),
    errors=(ErrorCode.NOT_FOUND, ErrorCode.ALREADY_REDEEMED, ErrorCode.EXPIRED),
)
async def checkout_qr(call: Call) -> web.StreamResponse:
    wanted = call.query["codes"]
    codes = []
    for value in wanted:
        code = normalize(value)
        if code is None:  # cannot be anyone's voucher: simply not in the wallet
            raise DomainError(
                ErrorCode.NOT_FOUND, "no such voucher in your wallet", {"code": value}
            )
        codes.append(code)
    if len(set(codes)) != len(codes):
        raise DomainError(
            ErrorCode.INVALID_REQUEST,
            "the same voucher is listed twice",
            {"codes": ["Each voucher may be listed once."]},
        )
    now = call.clock.now()
    mine = await vouchers.wallet_vouchers(call.db, call.me.sub, codes=codes, now=now)
    found = checkout_qr_of(call.app[keys.SERVER_KEYS]["qr_signing"], mine, codes=codes, now=now)
    buffer = io.BytesIO()
    segno.make(found["qr"], error="m").save(
        buffer, kind="svg", scale=6, border=4, xmldecl=False, title="合并使用"
    )
    return call.answer({**found, "svg": buffer.getvalue().decode()})
