"""A voucher as its resident sees it: the row, and its signed QR string (the one field of
the answer that is computed, not stored)."""

from __future__ import annotations

from typing import Any

from service.answers import as_text
from service.domain.codes import qr_string
from service.schemas.dump import Computed, dump
from service.schemas.vouchers import Voucher

VOUCHER = Voucher()


def voucher(row: Any, qr_key: bytes) -> Computed:
    return Computed(row, qr=qr_string(qr_key, row["code"]))


def voucher_text(row: Any, qr_key: bytes, tz: Any) -> str:
    """A claim's answer as stored with it (a keyed claim replays it byte for byte)."""
    return as_text(dump(VOUCHER, voucher(row, qr_key), tz))
