"""The bureau's headline views in ordinary use on the demo festival (issue 25): once a merchant
submits its 日结 for today, the dashboard's 消费恢复 panel, its CSV and the bulletin still open
on the festival's last days with data, with no answer of 400 or more in the network log. The
demo's festival is May 2020 and the clock says today, as after `make run`. This module writes
to its demo (a merchant's turnover), so it loads one of its own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import aiohttp
import asyncpg
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


async def report_today(base: str, url: str, settings: Settings) -> str:
    """A festival merchant's 日结 for today (the real today, years after the festival)."""
    conn = await asyncpg.connect(url)
    try:
        merchant_id = await conn.fetchval("SELECT min(id) FROM merchants")
    finally:
        await conn.close()
    token, _ = issue_token(settings, role="merchant", sub="owner", merchant_id=merchant_id)
    today = datetime.now(settings.tz).date().isoformat()
    headers = {"Authorization": f"Bearer {token}"}
    path = f"{base}/api/v1/merchant/turnover/{today}"
    async with (
        aiohttp.ClientSession(headers=headers) as session,
        session.put(path, json={"sales_fen": 123_400}) as resp,
    ):
        assert resp.status == 200, await resp.text()
    return today


def watch(page: Any) -> list[str]:
    problems: list[str] = []
    page.on(
        "console", lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None
    )
    page.on("pageerror", lambda error: problems.append(f"uncaught: {error}"))
    page.on(
        "response",
        lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None,
    )
    page.on("requestfailed", lambda request: problems.append(f"failed {request.url}"))
    return problems


@pytest.mark.parametrize("width", [1280, 375])
async def test_a_merchants_report_for_today_leaves_recovery_and_the_bulletin_on_the_festival(
    served: tuple[str, dict[str, Any]],
    demo_db: tuple[str, dict[str, Any]],
    settings: Settings,
    browser: Any,
    width: int,
) -> None:
    base, credentials = served
    today = await report_today(base, demo_db[0], settings)
    bureau = credentials["bureau"]
    context = await browser.new_context(viewport={"width": width, "height": 1400}, locale="zh-CN")
    context.set_default_timeout(15_000)
    page = await context.new_page()
    problems = watch(page)

    await page.goto(base + "/bureau")
    await sign_in(page, bureau["username"], bureau["password"])
    await page.locator("#recovery-totals tr[data-category='dining']").wait_for()
    await page.wait_for_load_state("networkidle")
    shown = await page.locator("#recovery-range").inner_text()
    # The festival's days (May 2020), not 2020 to today.
    assert shown.startswith("2020-05") and "2020-05" in shown.split("至")[1], shown
    assert today not in shown
    async with page.expect_download() as caught:
        await page.click("#recovery-csv")
    download = await caught.value
    assert download.suggested_filename.startswith("festival-recovery-2020-05"), (
        download.suggested_filename
    )
    await shot(page, f"bureau-recovery-after-today-{width}")

    await page.goto(base + "/bureau/bulletin")
    await page.locator("#recovery tr[data-category='dining']").wait_for()
    await page.wait_for_load_state("networkidle")
    assert (await page.input_value("#day")).startswith("2020-0")  # the last day with redemptions
    await shot(page, f"bulletin-after-today-{width}")
    assert problems == [], problems
    await context.close()
