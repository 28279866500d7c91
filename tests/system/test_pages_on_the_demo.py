"""Every bureau page, and the bulletin, opened on its default dates on the demo festival in a
real browser: no console error, no uncaught exception, no answer of 400 or more in the
network log (issue 22: the bulletin without `?date=` failed on the demo). The demo's festival
is May 2020 and the browser's clock says today, as a newcomer's after `make run` does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from service.app import create_app
from service.auth import issue_token
from service.clock import Clock
from service.settings import Settings
from service.sms import CapturingSmsSender
from tests.support.pages import NEEDS_BROWSER, shot, sign_in

pytestmark = NEEDS_BROWSER  # skipped, with the reason, without Chromium


@pytest.fixture
async def served(
    demo_db: tuple[str, dict[str, Any]], settings: Settings
) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    import dataclasses

    url, credentials = demo_db
    app = create_app(
        settings=dataclasses.replace(settings, database_url=url),
        clock=Clock(),
        sms=CapturingSmsSender(),
    )
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/"), credentials
    finally:
        await server.close()


async def last_busy_day(base: str, settings: Settings) -> str:
    """The festival's last day with redemptions, as the API reports it."""
    token, _ = issue_token(settings, role="bureau", sub="checker")
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        async with session.get(f"{base}/api/v1/stats/summary") as resp:
            summary = await resp.json()
        query = {"from": summary["from"], "to": summary["to"]}
        async with session.get(f"{base}/api/v1/stats/daily", params=query) as resp:
            items = (await resp.json())["items"]
    return max(r["date"] for r in items if r["vouchers_redeemed"] > 0)


# Each page, and what shows that it has drawn its data.
PAGES = {
    "bureau": ("/bureau", "#totals tr >> nth=1"),
    "money": ("/bureau/money", "#ledger-totals tr >> nth=1"),
    "bulletin": ("/bureau/bulletin", "#recovery tr[data-category='dining']"),
}


@pytest.mark.parametrize("page_name", sorted(PAGES))
async def test_a_bureau_page_opens_on_its_default_dates_on_the_demo(
    served: tuple[str, dict[str, Any]], settings: Settings, browser: Any, page_name: str
) -> None:
    base, credentials = served
    path, drawn = PAGES[page_name]
    context = await browser.new_context(viewport={"width": 1280, "height": 1400}, locale="zh-CN")
    context.set_default_timeout(15_000)
    page = await context.new_page()
    problems: list[str] = []
    page.on(
        "console",
        lambda message: (
            problems.append(f"console {message.type}: {message.text}")
            if message.type == "error"
            else None
        ),
    )
    page.on("pageerror", lambda error: problems.append(f"uncaught: {error}"))
    page.on(
        "response",
        lambda response: (
            problems.append(f"{response.status} {response.url}") if response.status >= 400 else None
        ),
    )
    page.on("requestfailed", lambda request: problems.append(f"failed {request.url}"))
    await page.goto(base + path)
    bureau = credentials["bureau"]
    await sign_in(page, bureau["username"], bureau["password"])
    await page.locator(drawn).wait_for()
    await page.wait_for_load_state("networkidle")
    await shot(page, f"demo-{page_name}")
    assert problems == [], problems
    assert await page.locator("#login").is_hidden()
    if page_name == "bureau":
        # The demo month's SMS, phones masked.
        first = page.locator("#messages tr >> nth=1")
        await first.wait_for()
        assert "****" in await first.inner_text()
        assert "已发送" in await page.locator("#messages-counts").inner_text()
    if page_name == "bulletin":
        # The festival is long over: the default is its last day with redemptions, not an
        # empty yesterday.
        assert await page.input_value("#day") == await last_busy_day(base, settings)
        assert await page.locator("#top td").first.inner_text() != "当日无核销"
    await context.close()
