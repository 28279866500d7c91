"""A redemption as the checkout sees it (and as its stored answer is written), a checkout of
several vouchers, and the cashier's previews: whether each voucher is redeemable here, and why
not."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from service.answers import as_text
from service.errors import REFUSALS, ErrorCode
from service.schemas.dump import Computed, dump
from service.schemas.vouchers import Checkout, Redemption

REDEMPTION = Redemption()
CHECKOUT = Checkout()


def redemption_json(row: Any, tz: Any) -> dict[str, Any]:
    """The redemption as the schema declares it (stored as the keyed answer, then replayed)."""
    return dump(REDEMPTION, row, tz)  # type: ignore[no-any-return]


def redemption_text(values: dict[str, Any], tz: Any) -> str:
    """A new redemption's answer, or a checkout's of several vouchers (values with `items`),
    stored for its key in the statement that redeems (the domain's renderer): the same dump as
    every later read of it."""
    if "items" in values:
        return as_text(dump(CHECKOUT, values, tz))
    return as_text(redemption_json(values, tz))


def preview(voucher: Any, reason: ErrorCode | None) -> Computed:
    """What the cashier sees before redeeming: no resident identity, and why not if not."""
    if reason is None:
        return Computed(voucher, redeemable=True)
    return Computed(voucher, redeemable=False, reason=reason, reason_message=REFUSALS[reason])


def checkout_preview(
    found: list[tuple[Any, ErrorCode | None]], qr_expires_at: datetime | None
) -> dict[str, Any]:
    """Each voucher of a checkout as previewed, their totals, and the first refusal if any."""
    refused = next(((v, r) for v, r in found if r is not None), None)
    answer: dict[str, Any] = {
        "items": [preview(voucher, reason) for voucher, reason in found],
        "count": len(found),
        "discount_fen": sum(voucher["face_value_fen"] for voucher, _ in found),
        "min_spend_fen": sum(voucher["min_spend_fen"] for voucher, _ in found),
        "redeemable": refused is None,
        "qr_expires_at": qr_expires_at,
    }
    if refused is not None:
        voucher, reason = refused
        answer |= {
            "reason": reason,
            "reason_message": REFUSALS[reason],
            "reason_code": voucher["code"],
        }
    return answer
