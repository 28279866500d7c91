"""The HTTP server's own answers, made like every other error.

aiohttp's HTTP parser answers a request it cannot read (a header longer than 8 KB, a header
name such as `<script>`, a broken request line) before any middleware runs: as text/plain
echoing the offending bytes, with `Server: Python/3.11 aiohttp/…`. API.md wants the JSON error
body, never the request's bytes, and `Server: festival`. aiohttp builds that answer in
`RequestHandler.handle_error`; the runner below makes its server use a handler that answers
with ours instead (its log line stays, quieted by middlewares.MalformedRequestFilter).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from service.middlewares import plain_error_response


class JsonErrorRequestHandler(RequestHandler):  # type: ignore[type-arg]
    __slots__ = ()

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        # aiohttp's own: logs it, and raises if an answer has already begun.
        super().handle_error(request, status, exc, message)
        response = plain_error_response(status)
        response.force_close()
        return response


class JsonErrorServer(web.Server):
    def __call__(self) -> RequestHandler:  # type: ignore[type-arg]
        # web.Server keeps its loop and handler arguments in these two attributes.
        kwargs: dict[str, Any] = self._kwargs
        return JsonErrorRequestHandler(self, loop=self._loop, **kwargs)


class FestivalRunner(web.AppRunner):
    """web.AppRunner whose server answers its parser's refusals as API.md says."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = JsonErrorServer
        return server
