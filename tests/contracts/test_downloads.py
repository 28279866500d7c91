"""Every download the bureau (or a merchant) may take, as CSV and as an Excel workbook (issue
24): each endpoint that answers CSV rows also answers `?format=xlsx` holding the same rows,
the workbook with real cells (numbers, yuan, dates) and the CSV starting with a UTF-8 BOM.
The bank file is the exception both ways: the bank's format, byte for byte, no BOM."""

from __future__ import annotations

import math
import uuid
from datetime import date, datetime, timedelta
from typing import Any

from service.app import all_endpoints
from tests.conftest import Api
from tests.support.applications import apply
from tests.support.downloads import XLSX, csv_body, csv_rows, sheet_rows, workbook_sheet
from tests.support.money import ACCOUNT, EXPORTS, export, with_account
from tests.support.shops import DAY, batch, redeem, settle
from tests.support.turnover import TURNOVER, csv_of

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
RANGE = {"from": "2020-05-01", "to": "2020-05-07"}


async def festival_day(api: Api) -> dict[str, Any]:
    """A day of the festival with something in every download: two shops (one named like a
    formula), redemptions, a reversal, takings and their baseline, a budget, a suspension,
    the day rolled up, settled and paid out in a bank file."""
    shopping = await batch(api)
    mall = await api.merchant(category="shopping", name="济南远大购物广场")
    trick = await api.merchant(category="shopping", name="@SUM(1+1)*cmd|' /C calc'!A0")
    await redeem(api, mall, shopping, "alice", 12_345)
    await redeem(api, mall, shopping, "bob", 15_000)
    await redeem(api, trick, shopping, "carol", 10_300)
    await api.call(
        "PUT",
        f"/api/v1/merchant/turnover/{DAY}",
        json={"sales_fen": 880_000, "transactions": 41},
        headers=mall.headers,
        expect=200,
    )
    credit = mall.created["merchant"]["credit_code"]
    rows = [
        ("2019-05-08", credit, "shopping", 700_000),
        ("2020-05-06", credit, "shopping", 900_000),
    ]
    assert (await api.put_csv(TURNOVER, csv_of(rows)))[0] == 200
    await api.call(
        "PUT",
        "/api/v1/admin/budget",
        json={"category": "shopping", "budget_fen": 50_000_000},
        headers=api.bureau,
        expect=200,
    )
    suspension = {"person": "p:bad-actor", "suspended": True, "reason": "套现嫌疑，待核实"}
    await api.call(
        "PUT", "/api/v1/admin/suspensions", json=suspension, headers=api.bureau, expect=200
    )
    api.clock.advance(days=1)
    await api.run_job("daily_rollup", DAY)
    await settle(api, DAY)
    await with_account(api, mall.id, ACCOUNT["account_no"])
    made = await export(api, uuid.uuid4().hex)
    await apply(api, name="=蓝海超市(槐荫店)")  # a pending application, named like a formula
    return {"mall": mall, "export": made}


def downloads(api: Api, day: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any], Any]]:
    """Each download endpoint: the address to ask, its query, and whose token."""
    mall = day["mall"]
    return {
        "/api/v1/admin/merchants": ("/api/v1/admin/merchants", {}, api.bureau),
        "/api/v1/admin/budget": ("/api/v1/admin/budget", {}, api.bureau),
        "/api/v1/admin/suspensions": ("/api/v1/admin/suspensions", {}, api.bureau),
        "/api/v1/stats/daily": ("/api/v1/stats/daily", {"from": "2020-05-06"}, api.bureau),
        "/api/v1/stats/summary": ("/api/v1/stats/summary", {}, api.bureau),
        "/api/v1/stats/merchants": ("/api/v1/stats/merchants", {"date": str(DAY)}, api.bureau),
        "/api/v1/admin/settlements": ("/api/v1/admin/settlements", {"date": str(DAY)}, api.bureau),
        "/api/v1/merchant/settlements": ("/api/v1/merchant/settlements", RANGE, mall.headers),
        "/api/v1/admin/risk/flags": ("/api/v1/admin/risk/flags", {}, api.bureau),
        "/api/v1/admin/payments/exports": (EXPORTS, {}, api.bureau),
        "/api/v1/admin/ledger/transfers": ("/api/v1/admin/ledger/transfers", RANGE, api.bureau),
        "/api/v1/admin/merchants/{id}/statement": (
            f"/api/v1/admin/merchants/{mall.id}/statement",
            RANGE,
            api.bureau,
        ),
        "/api/v1/merchant/statement": ("/api/v1/merchant/statement", RANGE, mall.headers),
        "/api/v1/merchant/turnover": ("/api/v1/merchant/turnover", RANGE, mall.headers),
        "/api/v1/stats/recovery": (
            "/api/v1/stats/recovery",
            {"from": "2020-05-06", "to": "2020-05-06"},
            api.bureau,
        ),
        "/api/v1/admin/jobs": ("/api/v1/admin/jobs", {}, api.bureau),
        "/api/v1/admin/audit": ("/api/v1/admin/audit", {}, api.bureau),
        "/api/v1/admin/merchant-applications": (
            "/api/v1/admin/merchant-applications",
            {},
            api.bureau,
        ),
    }


def header_of(column: str) -> str:
    """The workbook's header of a CSV column: money says its unit, in yuan."""
    return f"{column.removesuffix('_fen')} (元)" if column.endswith("_fen") else column


def assert_same_cell(cell: Any, text: str, column: str, where: str) -> None:
    """The workbook's cell holds what the CSV's cell says, as a real cell of its kind."""
    value = cell.value
    if text == "":
        assert value is None, where
    elif column.endswith("_fen"):
        assert isinstance(value, int | float) and round(value * 100) == int(text), where
        assert cell.number_format == "#,##0.00", where
    elif isinstance(value, datetime) and cell.number_format == "yyyy-mm-dd":
        assert value.time() == datetime.min.time() and value.date() == date.fromisoformat(text)
    elif isinstance(value, datetime):
        assert cell.number_format == "yyyy-mm-dd hh:mm:ss", where
        wall = datetime.fromisoformat(text).replace(tzinfo=None)
        assert abs(value - wall) < timedelta(milliseconds=1), (where, value, text)
    elif isinstance(value, bool):
        assert str(value) == text, where
    elif isinstance(value, int | float):
        assert math.isclose(value, float(text), rel_tol=1e-12), (where, value, text)
        if column == "id" or column.endswith("_id"):
            assert cell.number_format == "0", where  # an id has no thousands separators
        elif column.endswith("_rate"):
            assert cell.number_format == "0.00%", where
    else:
        assert cell.data_type == "s", (where, cell.data_type)  # text, never a formula
        if value.startswith(FORMULA_START):
            # Inert in both: the CSV's leading ', the workbook's quote prefix (the same text).
            assert text == "'" + value and cell.quotePrefix, (where, value)
        else:
            assert value == text and not cell.quotePrefix, (where, value, text)


async def test_every_csv_download_is_also_a_workbook_of_the_same_rows(api: Api) -> None:
    day = await festival_day(api)
    wanted = downloads(api, day)
    offered = {ep.path for ep in all_endpoints() if ep.produces_xlsx}
    assert offered == set(wanted), "a new download: add it here"
    for path, (address, query, headers) in wanted.items():
        as_csv = await api.client.get(address, params={**query, "format": "csv"}, headers=headers)
        assert as_csv.status == 200, (path, await as_csv.text())
        text = await as_csv.text()
        as_xlsx = await api.client.get(address, params={**query, "format": "xlsx"}, headers=headers)
        assert as_xlsx.status == 200, (path, await as_xlsx.text())
        assert as_xlsx.content_type == XLSX
        # Named as the CSV is, with the workbook's suffix.
        named = as_csv.headers["Content-Disposition"]
        assert named.startswith('attachment; filename="') and named.endswith('.csv"'), named
        assert as_xlsx.headers["Content-Disposition"] == named.removesuffix('.csv"') + '.xlsx"'

        header, *rows = csv_rows(text)
        sheet = workbook_sheet(await as_xlsx.read())
        cells = list(sheet.iter_rows())
        assert [c.value for c in cells[0]] == [header_of(c) for c in header], path
        assert len(cells) == len(rows) + 1, (path, len(cells), len(rows))
        if path != "/api/v1/admin/risk/flags":  # no flag was raised that day
            assert rows, f"{path}: the scenario leaves no row to compare"
        for line, found in zip(rows, cells[1:], strict=True):
            for column, cell_text, cell in zip(header, line, found, strict=True):
                assert_same_cell(cell, cell_text, column, f"{path} {cell.coordinate} {column}")
        # The header row stays in view and filters; the columns are sized to their cells.
        assert sheet.freeze_panes == "A2", path
        assert sheet.auto_filter.ref == f"A1:{cells[0][-1].column_letter}{len(rows) + 1}"
        widths = [sheet.column_dimensions[c.column_letter].width for c in cells[0]]
        assert all(6 <= w <= 62 for w in widths), (path, widths)


async def test_the_workbook_of_a_day_has_numbers_yuan_dates_and_chinese(api: Api) -> None:
    await festival_day(api)
    resp = await api.client.get(
        "/api/v1/stats/merchants", params={"date": str(DAY), "format": "xlsx"}, headers=api.bureau
    )
    rows = sheet_rows(workbook_sheet(await resp.read()))
    assert rows[0] == [
        "date",
        "merchant_id",
        "merchant_name",
        "category",
        "vouchers_redeemed",
        "redemptions_reversed",
        "subsidy (元)",
        "sales (元)",
        "leverage",
        "unique_residents",
        "computed_at",
    ]
    mall = next(r for r in rows[1:] if r[2] == "济南远大购物广场")
    assert mall[0] == datetime(2020, 5, 6)
    assert mall[4:10] == [2, 0, 40.0, 273.45, 6.8362, 2]  # leverage as the JSON says it
    assert isinstance(mall[4], int) and isinstance(mall[10], datetime)


async def test_accept_header_chooses_the_workbook_and_json_wins_when_named(api: Api) -> None:
    sheet_type = {**api.bureau, "Accept": XLSX}
    resp = await api.client.get("/api/v1/admin/budget", headers=sheet_type)
    assert resp.status == 200 and resp.content_type == XLSX
    assert resp.headers["Content-Disposition"] == 'attachment; filename="festival-budget.xlsx"'
    assert sheet_rows(workbook_sheet(await resp.read()))[0][0] == "category"
    both = {**api.bureau, "Accept": f"{XLSX}, application/json"}
    resp = await api.client.get("/api/v1/admin/budget", headers=both)
    assert resp.content_type == "application/json"
    by_csv = await api.client.get(
        "/api/v1/admin/budget", headers={**api.bureau, "Accept": "text/csv"}
    )
    assert csv_body(await by_csv.text()).startswith("category,budget_fen,")
    status, body = await api.call(
        "GET", "/api/v1/admin/budget", params={"format": "xls"}, headers=api.bureau
    )
    assert status == 400 and "format" in body["error"]["details"]


async def test_the_bank_file_stays_the_banks_csv(api: Api) -> None:
    day = await festival_day(api)
    made = day["export"]
    resp = await api.client.get(f"{EXPORTS}/{made['id']}/file", headers=api.bureau)
    content = await resp.read()
    assert resp.content_type == "text/csv" and not content.startswith(b"\xef\xbb\xbf")
    resp = await api.client.get(
        f"{EXPORTS}/{made['id']}/file", params={"format": "xlsx"}, headers=api.bureau
    )
    assert await resp.read() == content  # no workbook of it: what the bank takes, as kept
