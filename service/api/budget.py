"""The bureau's budget per category (API.md, "Budget")."""

from __future__ import annotations

from aiohttp import web

from service.csvout import table_response
from service.domain import budget
from service.errors import ErrorCode
from service.http import Call, Routes
from service.schemas.budget import BudgetLine, BudgetSet
from service.schemas.common import TableQuery
from service.views.budget import budget_line

routes = Routes("budget (bureau)", roles=("bureau",))


@routes.get(
    "/admin/budget",
    summary="Per category: budget, committed, spent, available (CSV or Excel with ?format=csv|xlsx)",
    query=TableQuery(),
    table=BudgetLine(),
)
async def get_budget(call: Call) -> web.StreamResponse:
    rows = await budget.report(call.db, call.clock.now())
    return await table_response(call, [budget_line(r) for r in rows], "festival-budget")


@routes.put(
    "/admin/budget",
    summary="Set a category's budget (never below what is committed and spent)",
    body=BudgetSet(),
    response=BudgetLine(),
    errors=(ErrorCode.OVER_BUDGET,),
)
async def put_budget(call: Call) -> web.StreamResponse:
    row = await budget.set_budget(
        call.context, category=call.body["category"], budget_fen=call.body["budget_fen"]
    )
    return call.answer(budget_line(row))
