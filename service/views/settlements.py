"""A settlement line as the bureau and the merchant see it: its net is computed."""

from __future__ import annotations

from typing import Any

from service.schemas.dump import Computed


def settlement_line(row: Any) -> Computed:
    return Computed(row, net_fen=row["subsidy_fen"] + row["adjustments_fen"])
