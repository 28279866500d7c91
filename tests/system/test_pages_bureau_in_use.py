"""The bureau's headline views in ordinary use on the demo festival (issue 25): once a merchant
submits its 日结 for today, the dashboard's 消费恢复 panel, its CSV and the bulletin still open
on the festival's last days with data, with no answer of 400 or more in the network log. The
demo's festival is May 2020 and the clock says today, as after `make run`. This module writes
to its demo (a merchant's turnover), so it loads one of its own."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
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
from tests.support.pages import NEEDS_BROWSER, SHOTS, shot, sign_in

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


async def opened(
    browser: Any, base: str, credentials: dict[str, Any], path: str, width: int
) -> Any:
    context = await browser.new_context(viewport={"width": width, "height": 1400}, locale="zh-CN")
    context.set_default_timeout(15_000)
    page = await context.new_page()
    page.problems = watch(page)
    await page.goto(base + path)
    bureau = credentials["bureau"]
    await sign_in(page, bureau["username"], bureau["password"])
    return page


async def sideways(page: Any, width: int) -> list[str]:
    """What sticks out past the viewport's right edge (outside a table's own scroll box)."""
    return list(
        await page.evaluate(
            """w => document.documentElement.scrollWidth <= w ? [] :
            [...document.querySelectorAll('body *')]
              .filter(e => e.getBoundingClientRect().right > w + 1 && !e.closest('.scroll'))
              .map(e => `${e.tagName}#${e.id}.${e.className} ${Math.round(e.getBoundingClientRect().right)}`)""",
            width,
        )
    )


# What a flag's 分值 says under each rule: the number, then what it measures, in words.
SCORE_WORDS = {
    "同一人反复核销": r"^\d+\.\d\d 倍：7 天内同一人 \d+ 张，是触发线 \d+ 张的",
    "贴近门槛凑单": r"^\d+%：当日核销中贴近门槛（高出 5% 以内）的占比$",
    "短时集中核销": r"^(\d+\.\d 倍：10 分钟内 \d+ 笔，是此前 7 天|\d+ 笔：此前 7 天无核销可比)",
    "频繁撤销": r"^\d+%：当日核销中被撤销的占比$",
}


@pytest.mark.parametrize("width", [1280, 375])
async def test_the_money_page_shows_flags_as_orders_and_the_audit_trail_in_words_and_pages(
    served: tuple[str, dict[str, Any]], browser: Any, width: int
) -> None:
    base, credentials = served
    page = await opened(browser, base, credentials, "/bureau/money", width)
    await page.select_option("#flag-status", "")  # every flag the demo raised
    await page.locator("#flags tr[data-flag] >> nth=3").wait_for()
    await page.locator("#audit tr[data-entry] >> nth=1").wait_for()
    await page.wait_for_load_state("networkidle")

    rows = await page.locator("#flags tr[data-flag]").evaluate_all(
        "rows => rows.map(r => [...r.cells].map(c => c.innerText))"
    )
    rules = set()
    for cells in rows:
        _, _, _, rule, evidence, score, _, _ = cells
        rules.add(rule)
        assert re.search(SCORE_WORDS[rule], score), (rule, score)
        assert "fen" not in evidence and "¥" in evidence, evidence
    assert {"同一人反复核销", "贴近门槛凑单", "短时集中核销"} <= rules
    # No two rows alike even without their numbers: what differs is on the row (the day, the
    # rule, or for one person's repeats the holder).
    assert len({tuple(cells[1:6]) for cells in rows}) == len(rows)

    # A flag's evidence as orders: time, order number, amounts in 元, voucher, batch.
    pair = page.locator("#flags tr[data-flag]", has_text="同一人反复核销").first
    named = int((await pair.locator("td").nth(4).inner_text()).split(" 笔核销")[0])
    await pair.get_by_role("button", name="查看").click()
    orders = page.locator("#flag-orders tr[data-redemption]")
    await orders.first.wait_for()
    assert await orders.count() == named
    first = await orders.first.locator("td").all_inner_texts()
    assert re.match(r"\d{4}/\d{1,2}/\d{1,2} \d{2}:\d{2}:\d{2}$", first[0]), first
    assert all(c.startswith("¥") for c in first[2:5]) and first[5] and first[6], first
    assert "持券人尾号" in await page.locator("#flag-evidence").inner_text()

    # The audit trail: 50 a page, pages on, field names in Chinese and money in 元, whole.
    entries = page.locator("#audit tr[data-entry]")
    assert await entries.count() == 50
    first_id = await entries.first.get_attribute("data-entry")
    texts = await page.locator("#audit tr[data-entry] td:nth-child(5)").all_inner_texts()
    for text in texts:
        assert not re.search(r"[A-Za-z_]{3,}：|_fen|[{}\"]", text), text
    await page.click("#audit-next")
    await page.wait_for_function(
        "id => Number(document.querySelector('#audit tr[data-entry]').dataset.entry) < id",
        arg=int(first_id or 0),
    )
    assert "第 2 页" in await page.locator("#audit-page").inner_text()
    texts += await page.locator("#audit tr[data-entry] td:nth-child(5)").all_inner_texts()
    assert any("¥" in t for t in texts)
    await page.click("#audit-prev")
    await page.wait_for_function(
        "id => Number(document.querySelector('#audit tr[data-entry]').dataset.entry) === id",
        arg=int(first_id or 0),
    )
    await shot(page, f"money-in-use-{width}")
    for part in ("flags", "flag-detail", "audit"):
        card = page.locator(f"#{part}").locator(
            "xpath=ancestor-or-self::div[contains(@class,'card')]"
        )
        await card.first.screenshot(path=str(SHOTS / f"money-{part}-{width}.png"))
    assert await sideways(page, width) == []
    assert page.problems == [], page.problems
    await page.context.close()


@pytest.fixture
async def drilled(
    demo_db: tuple[str, dict[str, Any]], settings: Settings
) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """The demo served in a drill (FESTIVAL_DRILL): the festival's now is the drill clock's."""
    import dataclasses

    url, credentials = demo_db
    app = create_app(
        settings=dataclasses.replace(settings, database_url=url, drill=True),
        sms=CapturingSmsSender(),
    )
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/"), credentials
    finally:
        await server.close()


@pytest.mark.parametrize("width", [1280, 375])
async def test_the_dashboard_says_jobs_and_its_date_in_words_and_its_toasts_go(
    drilled: tuple[str, dict[str, Any]], settings: Settings, browser: Any, width: int
) -> None:
    base, credentials = drilled
    # The drill's clock ten minutes on from its now (it only moves forward; the same business
    # day, so yesterday stays yesterday).
    token, _ = issue_token(settings, role="bureau", sub="drill-lead")
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session:
        async with session.get(f"{base}/api/v1/about") as resp:
            now = datetime.fromisoformat((await resp.json())["now"]).astimezone(settings.tz)
        to = (now + timedelta(minutes=10)).replace(second=0, microsecond=0)
        clock = f"{base}/api/v1/admin/drill/clock"
        async with session.post(clock, json={"to": to.isoformat()}) as resp:
            assert resp.status == 200, await resp.text()

    page = await opened(browser, base, credentials, "/bureau", width)
    await page.locator("#totals tr >> nth=1").wait_for()
    await page.locator("#jobs tr[data-job] >> nth=8").wait_for()
    await page.wait_for_load_state("networkidle")

    # 活动累计（含今日） as of the drill's now in festival time, not the demo's 2020/6/8.
    as_of = await page.locator("#as-of").inner_text()
    assert as_of.startswith(f"截至 {to.year}/{to.month}/{to.day} {to:%H}:"), as_of

    # Jobs by Chinese name, schedules in words: no job key, no crontab.
    jobs = await page.locator("#jobs tr[data-job]").evaluate_all(
        "rows => rows.map(r => [r.cells[0].innerText, r.cells[1].innerText])"
    )
    assert len(jobs) == 9
    for name, schedule in jobs:
        assert not re.search(r"[A-Za-z_*]", name + schedule), (name, schedule)
        assert re.match(r"^(每天 \d\d:\d\d|每分钟|每 \d+ 分钟)", schedule), schedule
    assert ("每日汇总", "每天 00:05") in [(n.splitlines()[0], s) for n, s in jobs]

    # A toast says its piece and goes; a reload does not bring it back.
    await page.locator("#jobs tr[data-job='housekeeping']").get_by_role("button").click()
    toast = page.locator("#toast")
    await toast.wait_for(state="visible")
    assert await toast.inner_text() == "已开始运行：系统清理"
    await toast.wait_for(state="hidden", timeout=5_000)
    await page.reload()
    await page.locator("#jobs tr[data-job] >> nth=8").wait_for()
    await page.wait_for_load_state("networkidle")
    assert await toast.is_hidden()
    await shot(page, f"dashboard-in-use-{width}")
    for part in ("totals", "jobs"):
        card = page.locator(f"#{part}").locator("xpath=ancestor::div[contains(@class,'card')]")
        await card.first.screenshot(path=str(SHOTS / f"dashboard-{part}-{width}.png"))
    assert await sideways(page, width) == []
    assert page.problems == [], page.problems
    await page.context.close()
