"""Ledger rows as the API shows them: a statement day's payout references are one text."""

from __future__ import annotations

from typing import Any

from service.schemas.dump import Computed


def statement_day(row: Any) -> Computed:
    return Computed(row, references=" ".join(row["references"]))
