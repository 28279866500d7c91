"""Request id, JSON errors for every error path, metrics, and an access log without secrets."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.typedefs import Handler

from service import keys
from service.db import translate
from service.errors import DomainError
from service.http import dumps

log = logging.getLogger("festival.errors")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

_HTTP_CODES = {
    400: ("invalid_request", "the request is not valid"),
    401: ("unauthorized", "authentication required"),
    403: ("forbidden", "forbidden"),
    404: ("not_found", "no such resource"),
    405: ("method_not_allowed", "method not allowed on this resource"),
    413: ("payload_too_large", "the request body is too large"),
    415: ("unsupported_media_type", "unsupported media type"),
}


def _error_response(err: DomainError) -> web.Response:
    headers = {}
    if err.retry_after is not None:
        headers["Retry-After"] = str(err.retry_after)
    return web.Response(
        text=dumps(err.body()), status=err.status, content_type="application/json", headers=headers
    )


@web.middleware
async def service_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Request id, JSON errors for every error path, and metrics: one layer, not three, since
    each layer costs every request (the flash crowd's included)."""
    incoming = request.headers.get("X-Request-Id", "")
    request_id = incoming if _REQUEST_ID.match(incoming) else os.urandom(16).hex()
    request[keys.REQUEST_ID] = request_id
    started = time.perf_counter()
    try:
        response = await _answer(request, handler)
    except web.HTTPException as exc:  # a redirect or other non-error answer raised by aiohttp
        exc.headers["X-Request-Id"] = request_id
        raise
    response.headers["X-Request-Id"] = request_id
    if request.app[keys.LIFECYCLE].draining:
        # Shutting down: the client (nginx) closes this connection after this answer instead
        # of sending the next request down a connection about to go away.
        response.force_close()
    resource = request.match_info.route.resource
    request.app[keys.METRICS].observe(
        request.method,
        resource.canonical if resource is not None else "unmatched",
        response.status,
        time.perf_counter() - started,
    )
    return response


async def _answer(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except DomainError as err:
        return _error_response(err)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code, message = _HTTP_CODES.get(exc.status, ("invalid_request", exc.reason))
        if exc.status >= 500:
            code, message = "internal_error", "internal error"
        response = _error_response(DomainError(code, message))
        response.set_status(exc.status)
        if exc.status == 405 and "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        domain = translate(exc)
        if domain is not None:
            if domain.code == "unavailable":
                log.warning(
                    "database unavailable (request %s): %r", request.get(keys.REQUEST_ID), exc
                )
            return _error_response(domain)
        log.exception("unexpected error in request %s", request.get(keys.REQUEST_ID))
        return _error_response(
            DomainError(
                "internal_error",
                "internal error; quote the request id when reporting it",
                {"request_id": request.get(keys.REQUEST_ID)},
            )
        )


class AccessLogger(AbstractAccessLogger):
    """Method, path without its query, status, time and request id: no headers, no tokens,
    no query strings (which could carry a code or phone number)."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info(
            "%s %s %s %.1fms rid=%s",
            request.method,
            request.path,
            response.status,
            time * 1000,
            response.headers.get("X-Request-Id", "-"),
        )

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)


def middlewares() -> list[Any]:
    return [service_middleware]
