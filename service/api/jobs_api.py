"""The scheduled jobs, seen and started by the bureau."""

from __future__ import annotations

import asyncio

from aiohttp import web
from marshmallow import Schema, fields

from jobs.registry import BY_NAME, JOBS
from jobs.runner import refuse_day_not_over
from jobs.scheduler import next_run_at
from service import keys
from service.csvout import download, table_format
from service.domain import audit
from service.errors import DomainError, ErrorCode
from service.http import Call, Routes, json_response
from service.schemas.common import Date, Day, Instant, TableQuery
from service.schemas.dump import Computed
from service.timefmt import business_day

routes = Routes("jobs (bureau)", roles=("bureau",))


class RunRequest(Schema):
    date = Day()


class LastRun(Schema):
    period = fields.String(required=True)
    started_at = Instant(required=True)
    finished_at = Instant(required=True, allow_none=True)
    status = fields.String(required=True)
    rows = fields.Integer(required=True, allow_none=True)
    error = fields.String(required=True, allow_none=True)
    attempts = fields.Integer(required=True)


class Job(Schema):
    name = fields.String(required=True)
    schedule = fields.String(required=True, metadata={"description": "crontab, festival time zone"})
    description = fields.String(required=True)
    next_run_at = Instant(required=True, allow_none=True)
    running = fields.Boolean(required=True)
    last_run = fields.Nested(LastRun, required=True, allow_none=True)


class JobLine(Schema):
    """A job and its last run in one row: the columns of the jobs' download."""

    name = fields.String(required=True)
    schedule = fields.String(required=True)
    next_run_at = Instant(required=True, allow_none=True)
    running = fields.Boolean(required=True)
    period = fields.String(required=True, allow_none=True)
    started_at = Instant(required=True, allow_none=True)
    finished_at = Instant(required=True, allow_none=True)
    status = fields.String(required=True, allow_none=True)
    rows = fields.Integer(required=True, allow_none=True)
    error = fields.String(required=True, allow_none=True)
    attempts = fields.Integer(required=True, allow_none=True)


_LAST_RUN = tuple(LastRun().fields)


class RunStarted(Schema):
    job = fields.String(required=True)
    date = Date(required=True, allow_none=True)
    status = fields.String(required=True)


@routes.get(
    "/admin/jobs",
    summary="Each scheduled job and its last run (one row each as CSV or Excel with"
    " ?format=csv|xlsx)",
    query=TableQuery(),
    response=Job(many=True),
    produces_csv=True,
    produces_xlsx=True,
)
async def list_jobs(call: Call) -> web.StreamResponse:
    tz, now = call.settings.tz, call.clock.now()
    runner = call.app[keys.JOBS]
    last, running = await runner.last_runs(), await runner.running()
    found = call.dump(
        [
            Computed(
                job,
                next_run_at=next_run_at(job, tz, now=now),
                running=job.name in running,
                last_run=last.get(job.name),
            )
            for job in JOBS
        ]
    )
    kind = table_format(call.request, call.query)
    if kind == "json":
        return json_response(found)
    lines = [{**job, **{k: (job["last_run"] or {}).get(k) for k in _LAST_RUN}} for job in found]
    return await download(kind, lines, JobLine(), "festival-jobs")


@routes.post(
    "/admin/jobs/{name}/runs",
    summary="Run a job now (for a day, for daily jobs); 409 if it is running anywhere, or"
    " for settlement of a day not yet over",
    body=RunRequest(),
    body_optional=True,
    response=RunStarted(),
    status=202,
    errors=(ErrorCode.NOT_FOUND, ErrorCode.JOB_RUNNING, ErrorCode.DAY_NOT_OVER),
)
async def start_run(call: Call) -> web.StreamResponse:
    job = BY_NAME.get(call.request.match_info["name"])
    if job is None:
        raise DomainError(ErrorCode.NOT_FOUND, "no such job", {"jobs": [j.name for j in JOBS]})
    day = call.body.get("date")
    now = call.clock.now()
    if day is not None:
        refuse_day_not_over(job, day, now=now, tz=call.settings.tz)
    if day is not None and day > business_day(now, call.settings.tz):
        raise DomainError(
            ErrorCode.INVALID_REQUEST,
            "that day has not come yet",
            {"date": ["Must not be in the future."]},
        )
    runner = call.app[keys.JOBS]
    if job.name in await runner.running():
        raise DomainError(
            ErrorCode.JOB_RUNNING, f"{job.name} is running; try again when it is done"
        )
    after = {"date": None if day is None else day.isoformat()}
    await audit.record(
        call.context, action="job.run", target=f"jobs/{job.name}", before=None, after=after
    )
    task = asyncio.create_task(runner.run_now(job, day))
    background = call.app[keys.BACKGROUND]
    background.add(task)
    task.add_done_callback(background.discard)
    return call.answer({"job": job.name, "date": day, "status": "started"})
