"""The resident's 领券 list (issue 25): open batches first, then upcoming ones, and ended ones
(closed, sold out, a drawn lottery the resident did not enter) folded behind 已结束, at
375 px, with no 4xx/5xx while the page loads."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from service.app import create_app
from service.auth import issue_token
from service.clock import Clock
from service.settings import Settings
from service.sms import CapturingSmsSender
from tests.support.factories import live_batch_body
from tests.support.pages import NEEDS_BROWSER, TARGETS_JS, shot

pytestmark = NEEDS_BROWSER

PHONE = {"width": 375, "height": 812}


@pytest.fixture
async def site(settings: Settings) -> AsyncIterator[tuple[str, str]]:
    app = create_app(settings=settings, clock=Clock(), sms=CapturingSmsSender())
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    bureau, _ = issue_token(settings, role="bureau", sub="tester")
    mine, _ = issue_token(settings, role="resident", sub="me")
    other, _ = issue_token(settings, role="resident", sub="other")
    async with aiohttp.ClientSession(base) as http:

        async def post(path: str, token: str, body: Any = None) -> Any:
            async with http.post(
                path, json=body, headers={"Authorization": f"Bearer {token}"}
            ) as resp:
                assert resp.status == 201, await resp.text()
                return await resp.json()

        async def batch(title: str, **overrides: Any) -> None:
            await post("/api/v1/admin/batches", bureau, live_batch_body(title=title, **overrides))

        tomorrow = datetime.now(UTC) + timedelta(days=1)
        # Created in an order the page must not keep: ended, upcoming, open, ended, open.
        for n in (1, 2):
            made = await post(
                "/api/v1/admin/batches", bureau, live_batch_body(title=f"售罄{n}", quantity=1)
            )
            await post(f"/api/v1/batches/{made['id']}/claims", other)
            if n == 1:
                await batch(
                    "明日开抢",
                    claim_starts_at=tomorrow.isoformat(),
                    claim_ends_at=(tomorrow + timedelta(days=1)).isoformat(),
                )
            await batch(f"抢券中{n}")
        yield base, mine
    await server.close()


async def test_open_first_then_upcoming_and_ended_ones_folded(
    site: tuple[str, str], browser: Any
) -> None:
    base, token = site
    context = await browser.new_context(viewport=PHONE, locale="zh-CN")
    context.set_default_timeout(10_000)
    page = await context.new_page()
    failed: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    await page.goto(base + "/")
    await page.evaluate(f"sessionStorage.setItem('festival.resident.token', '{token}')")
    await page.goto(base + "/")
    await page.wait_for_selector("#batches .card")
    await page.wait_for_load_state("networkidle")
    assert failed == []
    titles = await page.eval_on_selector_all(
        "#batches > .card h3", "(hs) => hs.map((h) => h.textContent)"
    )
    assert titles == ["抢券中1", "抢券中2", "明日开抢"], titles
    toggle = page.locator("#ended-toggle")
    assert await toggle.inner_text() == "已结束（2 批）"
    assert await toggle.get_attribute("aria-expanded") == "false"
    assert await page.locator("#ended-batches .card").count() == 0
    await shot(page, "resident-batches-folded-375")

    await toggle.click()
    await page.wait_for_selector("#ended-batches .card")
    ended = await page.eval_on_selector_all(
        "#ended-batches .card h3", "(hs) => hs.map((h) => h.textContent)"
    )
    assert sorted(ended) == ["售罄1", "售罄2"] and await toggle.inner_text() == "收起已结束的 2 批"
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"]
    small = [t for t in await page.evaluate(TARGETS_JS) if t["height"] < 44 or t["width"] < 44]
    assert small == [], small
    # A category filter keeps the fold: no 文化旅游 batches, nothing to unfold.
    await page.click("#category-tabs button:has-text('文化旅游')")
    assert await page.locator("#ended-toggle").count() == 0
    await context.close()
