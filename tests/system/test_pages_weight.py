"""What a page costs on the wire: the bureau's sign-in page in Chromium, every response's
bytes as transferred (headers and encoded body) summed. It was about 1.1 MiB (760 KiB of it
uncompressed files, 1 MiB of ECharts no one signed in could use); the files are gzipped now
and the charts' code comes after sign-in, when a chart is drawn."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestServer

from service.app import create_app
from service.auth import hash_password
from service.clock import Clock
from service.settings import Settings
from service.sms import CapturingSmsSender
from tests.support.pages import NEEDS_BROWSER, sign_in

pytestmark = NEEDS_BROWSER

SIGN_IN_BUDGET = 300 * 1024


@pytest.fixture
async def base(settings: Settings) -> AsyncIterator[str]:
    app = create_app(settings=settings, clock=Clock(), sms=CapturingSmsSender())
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    conn = await asyncpg.connect(settings.database_url)
    try:
        await conn.execute(
            "INSERT INTO bureau_users (username, password_hash) VALUES ($1, $2)",
            "analyst",
            hash_password("a long password 1"),
        )
    finally:
        await conn.close()
    yield str(server.make_url("")).rstrip("/")
    await server.close()


async def _transferred(responses: list[Any]) -> tuple[int, dict[str, int]]:
    by_url: dict[str, int] = {}
    for response in responses:
        sizes = await response.request.sizes()
        by_url[response.url] = sizes["responseHeadersSize"] + max(sizes["responseBodySize"], 0)
    return sum(by_url.values()), by_url


@pytest.mark.parametrize("path", ["/bureau", "/bureau/money"])
async def test_the_sign_in_page_is_light_and_the_charts_come_after_sign_in(
    base: str, browser: Any, path: str
) -> None:
    context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    context.set_default_timeout(15_000)  # closed with the browser
    page = await context.new_page()
    responses: list[Any] = []
    page.on("response", lambda response: responses.append(response))
    await page.goto(base + path, wait_until="networkidle")
    total, by_url = await _transferred(responses)
    print(f"{path} sign-in page: {total} bytes transferred in {len(by_url)} responses")
    assert all(r.status < 400 for r in responses), [(r.url, r.status) for r in responses]
    assert not any("echarts" in url for url in by_url), by_url
    assert total < SIGN_IN_BUDGET, by_url

    if path != "/bureau":  # the money page draws a chart when a flag is opened
        return
    responses.clear()
    await sign_in(page, "analyst", "a long password 1")
    # A chart drawn is ECharts fetched, once, gzipped.
    await page.wait_for_selector("canvas", state="attached")
    charts = [r for r in responses if r.url.endswith("/static/vendor/echarts.min.js")]
    assert len(charts) == 1, [r.url for r in responses]
    assert (await charts[0].all_headers()).get("content-encoding") == "gzip"
