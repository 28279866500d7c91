"""A stand-in SMS gateway over HTTP on 127.0.0.1, for tests that run the sender in a process of
its own: `Gateway` is the gateway (in the test's process; it keeps each message once per
key, as Aliyun's OutId lets a real one, and can hold the k-th request unanswered), and
`factory` (FESTIVAL_SMS_SENDER=tests.support.sms_gateway:factory) the service's sender that
posts to it, at TEST_SMS_GATEWAY_URL."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import aiohttp
from aiohttp import web


class Gateway:
    def __init__(self, *, hold_at: int | None = None) -> None:
        self.accepted: dict[str, dict[str, str]] = {}  # key → phone, text, id
        self.calls: list[str] = []
        self.hold_at = hold_at
        self.held: str | None = None  # the key of the request held unanswered
        self.holding = asyncio.Event()
        self.release = asyncio.Event()

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/send", self._send)
        return app

    async def _send(self, request: web.Request) -> web.Response:
        body: dict[str, Any] = await request.json()
        key = body["key"]
        self.calls.append(key)
        if key not in self.accepted:  # accepted first: a held message has been taken
            provider_id = f"gw-{len(self.accepted) + 1}"
            self.accepted[key] = {"phone": body["phone"], "text": body["text"], "id": provider_id}
        if self.hold_at is not None and len(self.calls) == self.hold_at:
            self.held = key
            self.holding.set()
            await self.release.wait()  # until the test has killed the sender
        return web.json_response({"id": self.accepted[key]["id"]})


class HttpSender:
    """The service's side: each message posted to the gateway with its outbox key."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def send_login_code(self, phone: str, code: str) -> None:
        raise RuntimeError("this gateway sends no login codes")

    async def send_message(self, phone: str, text: str, *, key: str | None = None) -> str:
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                self.url + "/send", json={"phone": phone, "text": text, "key": key}
            ) as response,
        ):
            response.raise_for_status()
            body = await response.json()
            return str(body["id"])


def factory() -> HttpSender:
    return HttpSender(os.environ["TEST_SMS_GATEWAY_URL"])
