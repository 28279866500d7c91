"""The bureau's turnover imports: its address and CSV rows."""

from __future__ import annotations

TURNOVER = "/api/v1/admin/turnover"
RECOVERY = "/api/v1/stats/recovery"


def csv_of(rows: list[tuple[str, str, str, int]]) -> str:
    return "date,credit_code,category,sales_fen\n" + "".join(
        f"{d},{c},{k},{s}\n" for d, c, k, s in rows
    )
