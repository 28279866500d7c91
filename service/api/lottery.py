"""Lottery batches: residents enter, the bureau draws (or the job does), anyone verifies."""

from __future__ import annotations

from aiohttp import web

from service import keys
from service.domain import lottery
from service.domain.context import Context
from service.errors import ErrorCode
from service.http import JSON, PUBLIC, Call, Routes
from service.schemas.lottery import DrawRecord, Entry, MyEntry
from service.views.lottery import draw_record_text

routes = Routes("lottery", roles=("resident",))


@routes.post(
    "/batches/{id}/entries",
    summary="Enter a lottery batch (once per person; a second call answers 200 with the entry)",
    response=Entry(),
    status=201,
    also=(200,),
    checks_binding=True,
    errors=(ErrorCode.NOT_FOUND, ErrorCode.NOT_LOTTERY, ErrorCode.NOT_OPEN, ErrorCode.CLOSED),
)
async def enter(call: Call) -> web.StreamResponse:
    me = call.me
    entry = await lottery.enter(
        call.db, call.path_id(), sub=me.sub, person=me.person, now=call.clock.now()
    )
    return call.answer(entry, 201 if entry.new else 200)


@routes.get(
    "/me/entries",
    summary="The caller's lottery entries and their results",
    response=MyEntry(many=True),
    checks_binding=True,  # below: a token without pid needs the bound person, not a check
)
async def my_entries(call: Call) -> web.StreamResponse:
    me = call.me
    person = await call.app[keys.BINDINGS].person(call.db, me.sub, me.person)
    rows = await lottery.entries_of(call.db, person)
    return call.answer(rows)


@routes.get(
    "/batches/{id}/draw",
    roles=PUBLIC,
    summary="The public record of a lottery's draw: anyone can recompute the winners from it",
    response=DrawRecord(),
    errors=(ErrorCode.NOT_FOUND,),
)
async def draw_record(call: Call) -> web.StreamResponse:
    row = await lottery.record(call.db, call.path_id())
    return web.Response(text=draw_record_text(row, call.settings.tz), content_type=JSON)


@routes.post(
    "/admin/batches/{id}/draw",
    roles=("bureau",),
    summary="Draw a lottery now (once its draw_at has passed; only once)",
    response=DrawRecord(),
    errors=(
        ErrorCode.NOT_FOUND,
        ErrorCode.NOT_LOTTERY,
        ErrorCode.NOT_OPEN,
        ErrorCode.ALREADY_DRAWN,
    ),
)
async def draw_now(call: Call) -> web.StreamResponse:
    # On the jobs' pool: a draw of a million entries takes longer than a request's statements
    # may (service/db.py).
    jobs_db = call.app[keys.JOBS].db
    drawn = await lottery.draw(
        Context(db=jobs_db, actor=call.actor, now=call.clock.now(), tz=call.settings.tz),
        batch_id=call.path_id(),
    )
    row = await lottery.record(call.db, drawn.batch_id)
    return web.Response(text=draw_record_text(row, call.settings.tz), content_type=JSON)
