"""Messages (SMS): a resident's reminder preference, and the bureau's view of the outbox."""

from __future__ import annotations

from aiohttp import web

from service.domain import messages
from service.errors import ErrorCode
from service.http import Call, Routes
from service.schemas.messages import Messages, MessagesQuery, Preferences, PreferencesSet
from service.views.messages import outbox

routes = Routes("messages", roles=("bureau",))


@routes.get(
    "/me/preferences",
    roles=("resident",),
    summary="The caller's SMS preferences, and the (masked) phone its messages go to",
    response=Preferences(),
)
async def get_preferences(call: Call) -> web.StreamResponse:
    return call.answer(await messages.preferences(call.db, call.me.sub))


@routes.put(
    "/me/preferences",
    roles=("resident",),
    summary="Stop (or restart) expiry reminders by SMS; lottery results still come",
    body=PreferencesSet(),
    response=Preferences(),
    errors=(ErrorCode.INVALID_REQUEST,),
)
async def put_preferences(call: Call) -> web.StreamResponse:
    found = await messages.set_reminders(
        call.db, call.me.sub, sms_reminders=call.body["sms_reminders"]
    )
    return call.answer(found)


@routes.get(
    "/admin/messages",
    summary="The SMS outbox: counts by status and kind, and messages newest first (phones masked)",
    query=MessagesQuery(),
    response=Messages(),
    errors=(ErrorCode.INVALID_REQUEST,),
)
async def list_messages(call: Call) -> web.StreamResponse:
    q = call.query
    found = await messages.outbox(
        call.db,
        q.get("status"),
        kind=q.get("kind"),
        limit=q["limit"],
        before_id=q.get("before_id"),
    )
    return call.answer(outbox(found))
