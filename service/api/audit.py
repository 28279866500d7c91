"""The bureau's audit trail: who changed what, when, hash-chained (service/domain/audit.py)."""

from __future__ import annotations

from aiohttp import web

from service.csvout import table_response
from service.domain import audit
from service.http import Call, Routes
from service.schemas.audit import AuditEntry, AuditQuery
from service.timefmt import day_bounds

routes = Routes("audit (bureau)", roles=("bureau",))


@routes.get(
    "/admin/audit",
    summary="The audit trail, newest first (from/to are business days; before_id pages on;"
    " CSV or Excel with ?format=csv|xlsx)",
    query=AuditQuery(),
    table=AuditEntry(),
)
async def list_audit(call: Call) -> web.StreamResponse:
    tz = call.settings.tz
    q = call.query
    from_at = day_bounds(q["from_"], tz)[0] if "from_" in q else None
    to_at = day_bounds(q["to"], tz)[1] if "to" in q else None
    entries = await audit.entries(
        call.db,
        from_at,
        to_at=to_at,
        actor=q.get("actor"),
        action=q.get("action"),
        object_=q.get("object"),
        limit=q["limit"],
        before_id=q.get("before_id"),
    )
    return await table_response(call, entries, "festival-audit")
