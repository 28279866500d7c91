"""Request id, JSON errors for every error path, metrics, and an access log without secrets."""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import re
import time
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.typedefs import Handler

from service import keys
from service.db import translate
from service.errors import DomainError, ErrorCode
from service.http import API_PREFIX, dumps
from service.vocabulary import printable

log = logging.getLogger("festival.errors")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}", re.ASCII)
# Made ids: 16 random hex digits per process, then a count: unique, and no system call per
# request (os.urandom was one). An id names a request; it is not a secret.
_ID_PREFIX = os.urandom(8).hex()
_ids = itertools.count(1)


def _new_request_id() -> str:
    return f"{_ID_PREFIX}{next(_ids):016x}"


def _new_id_prefix() -> None:  # a forked child must not repeat its parent's ids
    global _ID_PREFIX, _ids
    _ID_PREFIX, _ids = os.urandom(8).hex(), itertools.count(1)


os.register_at_fork(after_in_child=_new_id_prefix)


# What every answer carries: no version for scanners, no MIME sniffing.
COMMON_HEADERS = {"Server": "festival", "X-Content-Type-Options": "nosniff"}
# Pages, their static files and the API docs (everything outside /api/v1): scripts and data only
# from this origin; images also from blob: (the QR code fetched with the token); style
# attributes for the chart library; never inside another site's frame (clickjacking).
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' blob: data:; style-src 'self' 'unsafe-inline'; "
        "media-src 'self' blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}

_HTTP_CODES = {
    400: (ErrorCode.INVALID_REQUEST, "the request is not valid"),
    401: (ErrorCode.UNAUTHORIZED, "authentication required"),
    403: (ErrorCode.FORBIDDEN, "forbidden"),
    404: (ErrorCode.NOT_FOUND, "no such resource"),
    405: (ErrorCode.METHOD_NOT_ALLOWED, "method not allowed on this resource"),
    413: (ErrorCode.PAYLOAD_TOO_LARGE, "the request body is too large"),
    415: (ErrorCode.UNSUPPORTED_MEDIA_TYPE, "unsupported media type"),
}


def plain_error_response(status: int) -> web.Response:
    """The error body for a bare HTTP status (the server's own refusals), with the headers
    every answer carries; nothing of the request in it."""
    code, message = _HTTP_CODES.get(status, (ErrorCode.INVALID_REQUEST, "the request is not valid"))
    if status >= 500:
        code, message = ErrorCode.INTERNAL_ERROR, "internal error"
    response = _error_response(DomainError(code, message))
    response.set_status(status)
    response.headers.update(COMMON_HEADERS)
    response.headers["Cache-Control"] = "no-store"
    return response


def _error_response(err: DomainError) -> web.Response:
    headers = {}
    if err.retry_after is not None:
        headers["Retry-After"] = str(err.retry_after)
    return web.Response(
        body=_error_body(err),
        status=err.status,
        content_type="application/json",
        charset="utf-8",
        headers=headers,
    )


_ERROR_BODIES_REMEMBERED = 256
_error_bodies: dict[tuple[str, str], bytes] = {}


def _error_body(err: DomainError) -> bytes:
    """The error's JSON, encoded once per (code, message) when it has no details: a sold-out
    crowd gets the same answer tens of thousands of times a second."""
    if err.details:
        return dumps(err.body()).encode()
    key = (err.code, err.message)
    body = _error_bodies.get(key)
    if body is None:
        body = dumps(err.body()).encode()
        if len(_error_bodies) >= _ERROR_BODIES_REMEMBERED:
            _error_bodies.clear()  # bounded, should a message ever carry what a client sent
        _error_bodies[key] = body
    return body


@web.middleware
async def service_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Request id, JSON errors for every error path, and metrics: one layer, not three, since
    each layer costs every request (the flash crowd's included)."""
    incoming = request.headers.get("X-Request-Id", "")
    request_id = incoming if _REQUEST_ID.fullmatch(incoming) else _new_request_id()
    request[keys.REQUEST_ID] = request_id
    started = time.perf_counter()
    try:
        response = await _answer(request, handler)
    except web.HTTPException as exc:  # a redirect or other non-error answer raised by aiohttp
        exc.headers["X-Request-Id"] = request_id
        exc.headers.update(COMMON_HEADERS)
        raise
    headers = response.headers
    headers["X-Request-Id"] = request_id
    headers.update(COMMON_HEADERS)
    if not request.path.startswith(API_PREFIX):
        for name, value in PAGE_HEADERS.items():
            headers.setdefault(name, value)
    else:
        # Answers carry tokens, keys, account numbers and personal data: never kept by a
        # browser or a proxy, unless the endpoint says otherwise.
        headers.setdefault("Cache-Control", "no-store")
    lifecycle = request.app[keys.LIFECYCLE]
    if response.status == 503 and request.path.startswith(API_PREFIX):  # not /readyz's own
        lifecycle.unavailable_at = time.monotonic()
    if lifecycle.draining:
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
        code, message = _HTTP_CODES.get(exc.status, (ErrorCode.INVALID_REQUEST, exc.reason))
        if exc.status >= 500:
            code, message = ErrorCode.INTERNAL_ERROR, "internal error"
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
                ErrorCode.INTERNAL_ERROR,
                "internal error; quote the request id when reporting it",
                {"request_id": request.get(keys.REQUEST_ID)},
            )
        )


class AccessLogger(AbstractAccessLogger):
    """Method, path without its query, status, time and request id: no headers, no tokens,
    no query strings (which could carry a code or phone number). The path is logged as sent,
    still percent-encoded, so `%0A` cannot start a forged log line."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info(
            "%s %s %s %.1fms rid=%s",
            printable(request.method),
            printable(request.rel_url.raw_path),
            response.status,
            time * 1000,
            response.headers.get("X-Request-Id", "-"),
        )

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)


class MalformedRequestFilter(logging.Filter):
    """aiohttp logs a request its HTTP parser refuses (a NUL in a header, a broken request
    line) with a traceback at ERROR, though the client already got its 400: one warning line,
    no traceback, so a stranger cannot fill the log or page the operators."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError) and (exc.code or 400) < 500:
            remote = record.args[0] if isinstance(record.args, tuple) and record.args else "-"
            record.msg = "malformed HTTP request from %s refused (%s): %s"
            record.args = (remote, exc.code, printable(str(exc.message))[:200])
            record.exc_info = record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def quiet_malformed_requests() -> None:
    logging.getLogger("aiohttp.server").addFilter(MalformedRequestFilter())


def middlewares() -> list[Any]:
    return [service_middleware]
