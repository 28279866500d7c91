"""A redemption as the checkout sees it (and as its stored answer is written), and the
cashier's preview: whether the voucher is redeemable here, and why not."""

from __future__ import annotations

from typing import Any

from service.answers import as_text
from service.errors import REFUSALS, ErrorCode
from service.schemas.dump import Computed, dump
from service.schemas.vouchers import Redemption

REDEMPTION = Redemption()


def redemption_json(row: Any, tz: Any) -> dict[str, Any]:
    """The redemption as the schema declares it (stored as the keyed answer, then replayed)."""
    return dump(REDEMPTION, row, tz)  # type: ignore[no-any-return]


def redemption_text(values: dict[str, Any], tz: Any) -> str:
    """A new redemption's answer, stored for its key in the statement that redeems (the
    domain's renderer): the same dump as every later read of it."""
    return as_text(redemption_json(values, tz))


def preview(voucher: Any, reason: ErrorCode | None) -> Computed:
    """What the cashier sees before redeeming: no resident identity, and why not if not."""
    if reason is None:
        return Computed(voucher, redeemable=True)
    return Computed(voucher, redeemable=False, reason=reason, reason_message=REFUSALS[reason])
