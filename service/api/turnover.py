"""Turnover (日结) in, and what the festival did for the district out (API.md, "Turnover and
recovery")."""

from __future__ import annotations

from datetime import date, timedelta

from aiohttp import web

from service.csvout import download, table_format, table_response
from service.domain import recovery, turnover
from service.domain.turnover import Row as TurnoverLine
from service.errors import ErrorCode
from service.http import Call, Routes, json_response
from service.schemas.common import DayRangeQuery, check_span, read_rows, refuse_bad_lines
from service.schemas.turnover import (
    MAX_IMPORT_ROWS,
    RecoveryQuery,
    RecoveryReport,
    RecoveryRow,
    TurnoverDay,
    TurnoverImportRow,
    TurnoverReport,
    TurnoverStored,
)
from service.timefmt import business_day

routes = Routes("turnover and recovery", roles=("bureau",))


@routes.put(
    "/merchant/turnover/{date}",
    roles=("merchant",),
    summary="The caller's whole takings of a day (日结); correctable until paid out",
    body=TurnoverReport(),
    response=TurnoverDay(),
    errors=(ErrorCode.INVALID_REQUEST, ErrorCode.IMPLAUSIBLE, ErrorCode.CONFLICT),
)
async def report_turnover(call: Call) -> web.StreamResponse:
    mid = call.me.merchant_id
    assert mid is not None
    now = call.clock.now()
    row = await turnover.report(
        call.db,
        mid,
        day=call.path_day(),
        sales_fen=call.body["sales_fen"],
        transactions=call.body.get("transactions"),
        today=business_day(now, call.settings.tz),
        now=now,
        baseline_year=call.settings.baseline_year,
    )
    return call.answer(row)


@routes.get(
    "/merchant/turnover",
    roles=("merchant",),
    summary="The caller's reported takings between two days (default the last 31)",
    query=DayRangeQuery(),
    table=TurnoverDay(),
)
async def my_turnover(call: Call) -> web.StreamResponse:
    mid = call.me.merchant_id
    assert mid is not None
    start, to = call.day_range(31)
    rows = await turnover.of_merchant(call.db, mid, from_day=start, to_day=to)
    return await table_response(call, rows, f"turnover-{mid}")


@routes.put(
    "/admin/turnover",
    roles=("bureau",),
    summary="Import takings as CSV (date,credit_code,category,sales_fen); all rows or none",
    raw_body="text/csv",
    response=TurnoverStored(),
    errors=(ErrorCode.INVALID_REQUEST,),
)
async def import_turnover(call: Call) -> web.StreamResponse:
    year = call.settings.baseline_year
    rows = read_turnover(await call.csv_text(), (year, year + 1))
    stored = await turnover.store(call.context, rows=rows)
    return json_response({"rows": stored})


@routes.get(
    "/stats/recovery",
    roles=("bureau",),
    summary="Festival merchants' recovery against comparison merchants, per day and in total,"
    " with a 95% bootstrap interval (CSV or Excel with ?format=csv|xlsx)",
    query=RecoveryQuery(),
    response=RecoveryReport(),
    produces_csv=True,
    produces_xlsx=True,
)
async def recovery_report(call: Call) -> web.StreamResponse:
    year = call.settings.baseline_year
    yesterday = business_day(call.clock.now(), call.settings.tz) - timedelta(days=1)
    start, to = await recovery.default_range(
        call.db,
        year,
        tz=call.settings.tz,
        yesterday=yesterday,
        given_from=call.query.get("from_"),
        given_to=call.query.get("to"),
    )
    check_span(start, to)
    found = await recovery.compute(
        call.db, start, last=to, category=call.query.get("category"), baseline_year=year
    )
    report = call.dump({"items": found.items, "totals": found.totals})
    kind = table_format(call.request, call.query)
    if kind != "json":
        rows = [*report["items"], *report["totals"]]
        return await download(kind, rows, RecoveryRow(), f"festival-recovery-{start}-{to}")
    return json_response(report)


def read_turnover(text: str, years: tuple[int, ...]) -> list[TurnoverLine]:
    """The rows of a turnover CSV (`date,credit_code,category,sales_fen`), or a DomainError
    naming every bad line (1 = the header)."""
    rows: list[TurnoverLine] = []
    errors: dict[str, list[str]] = {}
    seen: dict[tuple[str, date], int] = {}
    for number, row, problems in read_rows(text, TurnoverImportRow(years)):
        if "date" in row and "credit_code" in row:
            key = (row["credit_code"], row["date"])
            if key in seen:
                problems.append(f"repeats line {seen[key]} ({key[0]}, {key[1]}).")
            seen[key] = number
        if problems:
            errors[str(number)] = problems
        else:
            rows.append(
                TurnoverLine(
                    number, row["date"], row["credit_code"], row["category"], row["sales_fen"]
                )
            )
    refuse_bad_lines(len(rows), errors, MAX_IMPORT_ROWS)
    return rows
