"""The residents' page for older residents (适老化, issue 24): a 大字模式 that scales text and
controls, kept across visits (localStorage, or `?large=1`); every control at least 44 × 44 px
and every text at WCAG AA contrast in both modes (measured in Chromium with Playwright), and
Lighthouse's accessibility score 100 in both modes: its own run on `/` (the sign-in view), and
its audit of the signed-in views (batches, lottery entries, wallet, QR dialog, the QR
dialog of several vouchers). Screenshots of
both modes at 390 × 844 go to test-output/screenshots/."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from jobs.registry import BY_NAME
from service import keys
from service.app import create_app
from service.auth import issue_token
from service.clock import Clock
from service.settings import Settings
from service.sms import CapturingSmsSender
from tests.support.factories import live_batch_body
from tests.support.pages import CHROMIUM, NEEDS_BROWSER, TARGETS_JS, shot

ROOT = Path(__file__).resolve().parents[2]
LIGHTHOUSE = ROOT / "node_modules" / ".bin" / "lighthouse"
PHONE = {"width": 390, "height": 844}
TOKEN_KEY = "festival.resident.token"
MIN_TARGET_PX = 44


@dataclass
class Resident:
    """The live service with a resident who has a voucher, a won lottery and batches to see."""

    base: str
    token: str
    batch_id: int
    drawn_id: int  # the lottery drawn, which the resident entered


@pytest.fixture
async def resident(settings: Settings) -> AsyncIterator[Resident]:
    app = create_app(settings=settings, clock=Clock(), sms=CapturingSmsSender())
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    bureau, _ = issue_token(settings, role="bureau", sub="tester")
    token, _ = issue_token(settings, role="resident", sub="older-resident")
    as_bureau = {"Authorization": f"Bearer {bureau}"}
    as_resident = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(base) as http:

        async def call(path: str, headers: dict[str, str], body: Any = None) -> Any:
            async with http.post(path, json=body, headers=headers) as resp:
                assert resp.status == 201, await resp.text()
                return await resp.json()

        async def batch(**overrides: Any) -> dict[str, Any]:
            return await call("/api/v1/admin/batches", as_bureau, live_batch_body(**overrides))

        # Sold out at once (another resident took the one voucher): folded behind 已结束.
        gone = await batch(title="文体券 满30减5（已抢光）", category="culture_tourism", quantity=1)
        other, _ = issue_token(settings, role="resident", sub="another-resident")
        await call(f"/api/v1/batches/{gone['id']}/claims", {"Authorization": f"Bearer {other}"})
        dining = await batch(title="餐饮券 满50减10（今日）", per_resident_limit=3)
        for _ in range(2):  # two of one category: 合并使用 takes both into one QR code
            await call(f"/api/v1/batches/{dining['id']}/claims", as_resident)
        tomorrow = datetime.now(UTC) + timedelta(days=1)
        await batch(
            title="购物券 满100减20（明日）",
            category="shopping",
            face_value_fen=2000,
            min_spend_fen=10000,
            claim_starts_at=tomorrow.isoformat(),
            claim_ends_at=(tomorrow + timedelta(days=1)).isoformat(),
        )
        lottery = {
            "category": "auto",
            "face_value_fen": 200000,
            "min_spend_fen": 5000000,
            "mode": "lottery",
        }
        later = (datetime.now(UTC) + timedelta(days=2)).isoformat()
        await batch(
            title="汽车消费券（摇号·报名中）", claim_ends_at=later, draw_at=later, **lottery
        )
        soon = (datetime.now(UTC) + timedelta(seconds=1.5)).isoformat()
        drawn = await batch(
            title="汽车消费券（摇号·已开奖）",
            quantity=2,
            claim_ends_at=soon,
            draw_at=soon,
            **lottery,
        )
        await call(f"/api/v1/batches/{drawn['id']}/entries", as_resident)
        await asyncio.sleep(
            max(0.0, (datetime.fromisoformat(soon) - datetime.now(UTC)).total_seconds()) + 0.3
        )
        assert (await app[keys.JOBS].run_now(BY_NAME["lottery_draw"])).outcome == "succeeded"
        yield Resident(base, token, dining["id"], drawn["id"])
    await server.close()


# Every shown text against the colour behind it (the page's backgrounds composed down the
# ancestors, the element's and its ancestors' opacity applied), WCAG's ratio and threshold.
CONTRAST_JS = """() => {
  const rgba = (c) => {
    const m = /rgba?\\(([^)]+)\\)/.exec(c);
    if (!m) return null;
    const p = m[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number);
    return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
  };
  const over = (top, under) => ({
    r: top.r * top.a + under.r * (1 - top.a), g: top.g * top.a + under.g * (1 - top.a),
    b: top.b * top.a + under.b * (1 - top.a), a: 1 });
  const lum = ({ r, g, b }) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const found = [];
  for (const el of document.querySelectorAll('body *')) {
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    const r = el.getBoundingClientRect();
    if (!own || r.width <= 1 || r.height <= 1 || el.closest('[hidden]')) continue;
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden' || style.display === 'none') continue;
    const chain = [];
    for (let n = el; n; n = n.parentElement) chain.unshift(n);
    let back = { r: 255, g: 255, b: 255, a: 1 };
    let opacity = 1;
    for (const n of chain) {
      const s = getComputedStyle(n);
      opacity *= Number(s.opacity);
      const c = rgba(s.backgroundColor);
      if (c && c.a > 0) back = over(c, back);
    }
    const ink = rgba(style.color);
    const text = over({ ...ink, a: ink.a * opacity }, back);
    const [hi, lo] = [lum(text), lum(back)].sort((a, b) => b - a);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
    found.push({ what: `${el.tagName.toLowerCase()}.${el.className} ${el.textContent.trim().slice(0, 14)}`,
                 ratio: (hi + 0.05) / (lo + 0.05), needed: large ? 3 : 4.5, size });
  }
  return found;
}"""


async def assert_tappable_and_legible(page: Any, view: str) -> None:
    targets = await page.evaluate(TARGETS_JS)
    assert targets, view
    small = [t for t in targets if t["width"] < MIN_TARGET_PX or t["height"] < MIN_TARGET_PX]
    assert not small, (view, small)
    texts = await page.evaluate(CONTRAST_JS)
    faint = [t for t in texts if t["ratio"] < t["needed"]]
    assert not faint, (view, faint)
    # Nothing wider than the phone: no sideways scrolling in either mode.
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], (view, width)


async def walk_the_views(page: Any, mode: str) -> dict[str, float]:
    """Each view of a signed-in resident, checked and photographed; the size of its text."""
    sizes: dict[str, float] = {}
    await page.wait_for_selector("#batches .card")
    await assert_tappable_and_legible(page, f"{mode} batches")
    sizes["h3"] = await page.evaluate(
        "parseFloat(getComputedStyle(document.querySelector('#batches h3')).fontSize)"
    )
    await shot(page, f"resident-{mode}-batches")
    # The ended batches, unfolded (issue 25).
    assert await page.locator("#ended-batches .card").count() == 0
    await page.click("#ended-toggle")
    await page.wait_for_selector("#ended-batches .card")
    assert await page.get_attribute("#ended-toggle", "aria-expanded") == "true"
    await assert_tappable_and_legible(page, f"{mode} ended batches")
    await shot(page, f"resident-{mode}-ended-batches")
    await page.click("#ended-toggle")
    await page.wait_for_selector("#ended-batches", state="hidden")
    await page.click("#tab-entries")
    await page.wait_for_selector("#entries .voucher a")
    href = await page.get_attribute("#entries .voucher a", "href")
    assert href is not None and href.startswith("/draw?batch="), href
    await assert_tappable_and_legible(page, f"{mode} entries")
    await shot(page, f"resident-{mode}-entries")
    await page.click("#tab-wallet")
    await page.wait_for_selector("#wallet .voucher button")
    await assert_tappable_and_legible(page, f"{mode} wallet")
    await shot(page, f"resident-{mode}-wallet")
    await page.locator("#wallet .voucher button", has_text="出示二维码").first.click()
    await page.wait_for_function("() => document.getElementById('qr-image').naturalWidth > 0")
    assert await page.evaluate("document.activeElement.id") == "qr-close"
    await assert_tappable_and_legible(page, f"{mode} qr")
    await shot(page, f"resident-{mode}-qr")
    await page.keyboard.press("Escape")
    await page.wait_for_selector("#qr-modal", state="hidden")
    # 合并使用: both vouchers picked, then their one QR code with its countdown.
    for box in await page.locator("#wallet [data-category='dining'] [data-pick]").all():
        await box.check()
    await page.wait_for_selector("#together-bar:not([hidden])")
    await assert_tappable_and_legible(page, f"{mode} wallet picked")
    await page.click("#together")
    await page.wait_for_function("() => document.getElementById('qr-image').naturalWidth > 0")
    await page.wait_for_selector("#qr-together:not([hidden])")
    assert await page.evaluate("document.activeElement.id") == "qr-close"
    await assert_tappable_and_legible(page, f"{mode} together qr")
    await shot(page, f"resident-{mode}-together-qr")
    await page.keyboard.press("Escape")
    await page.wait_for_selector("#qr-modal", state="hidden")
    await page.locator("#wallet .voucher button", has_text="可用商户").first.click()
    await page.wait_for_selector("#places .place, #places .card")
    assert await page.evaluate("document.activeElement.id") == "places-close"
    await assert_tappable_and_legible(page, f"{mode} places")
    await shot(page, f"resident-{mode}-places")
    await page.keyboard.press("Escape")
    await page.wait_for_selector("#places-modal", state="hidden")
    await page.click("#tab-nearby")
    await page.wait_for_selector("#nearby .place, #nearby .card")
    await assert_tappable_and_legible(page, f"{mode} nearby")
    await shot(page, f"resident-{mode}-nearby")
    return sizes


@NEEDS_BROWSER
async def test_both_text_sizes_have_big_targets_and_legible_text(
    resident: Resident, browser: Any
) -> None:
    context = await browser.new_context(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale="zh-CN"
    )
    context.set_default_timeout(10_000)
    page = await context.new_page()
    # Signed out: the sign-in form, in the standard size.
    await page.goto(resident.base + "/")
    await page.wait_for_selector("#login:not([hidden])")
    assert await page.evaluate("getComputedStyle(document.documentElement).fontSize") == "16px"
    assert await page.inner_text("#text-size") == "大字模式"
    await assert_tappable_and_legible(page, "standard sign-in")
    await shot(page, "resident-standard-sign-in")
    # The switch: large text at once, kept across a reload.
    await page.click("#text-size")
    assert await page.evaluate("document.documentElement.classList.contains('large-text')")
    assert await page.evaluate("getComputedStyle(document.documentElement).fontSize") == "22px"
    assert await page.inner_text("#text-size") == "标准字号"
    await page.reload()
    await page.wait_for_selector("#login:not([hidden])")
    assert await page.evaluate("localStorage.getItem('festival.largeText')") == "1"
    assert await page.evaluate("document.documentElement.classList.contains('large-text')")
    await assert_tappable_and_legible(page, "large sign-in")
    await shot(page, "resident-large-sign-in")

    # Signed in, each view in both modes: `?large=0` sets the standard size (and keeps it).
    await page.evaluate(f"sessionStorage.setItem('{TOKEN_KEY}', '{resident.token}')")
    await page.evaluate("sessionStorage.setItem('festival.resident.who', '139****5678')")
    await page.goto(resident.base + "/?large=0")
    standard = await walk_the_views(page, "standard")
    assert await page.evaluate("localStorage.getItem('festival.largeText')") == "0"
    await page.goto(resident.base + "/?large=1")
    large = await walk_the_views(page, "large")
    assert large["h3"] >= 1.3 * standard["h3"], (standard, large)
    await context.close()


def _lighthouse_missing() -> str | None:
    if shutil.which("node") is None:
        return "node is not installed (the pages' npm tools need it)"
    if not os.path.exists(CHROMIUM):
        return "Debian's chromium is not installed (make test installs it with apt-get)"
    return None


def _lighthouse_env() -> dict[str, str]:
    assert LIGHTHOUSE.exists(), "lighthouse is not installed: run `npm ci` (make test does)"
    return {**os.environ, "CHROME_PATH": CHROMIUM}


async def _run(*args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        *args,
        cwd=ROOT,
        env=_lighthouse_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=240)
    assert process.returncode == 0, err.decode()[-3000:]
    return out.decode()


def _failing(lhr: dict[str, Any]) -> list[tuple[str, Any]]:
    return [
        (
            audit["id"],
            [i.get("node", {}).get("selector") for i in audit.get("details", {}).get("items", [])][
                :5
            ],
        )
        for audit in lhr["audits"].values()
        if audit["score"] is not None
        and audit["score"] < 1
        and audit["scoreDisplayMode"] != "informative"
    ]


@pytest.mark.skipif(_lighthouse_missing() is not None, reason=_lighthouse_missing() or "")
async def test_lighthouse_scores_100_for_accessibility_in_both_text_sizes(
    resident: Resident,
) -> None:
    # Lighthouse's own run (its mobile emulation) of the page as it first opens: signed out.
    for path in ("/", "/?large=1"):
        out = await _run(
            str(LIGHTHOUSE),
            resident.base + path,
            "--only-categories=accessibility",
            "--chrome-flags=--headless=new --no-sandbox",
            "--output=json",
            "--output-path=stdout",
            "--quiet",
        )
        lhr = json.loads(out)
        assert lhr["lighthouseVersion"] == "12.2.3"
        assert lhr["categories"]["accessibility"]["score"] == 1, (path, _failing(lhr))
    # Signed in, each view, with the mode pre-set in localStorage as a returning visit has it.
    for mode in ("standard", "large"):
        out = await _run(
            "node", "tests/support/lighthouse_views.mjs", resident.base, resident.token, mode
        )
        views = json.loads(out.strip().splitlines()[-1])
        assert set(views) == {
            "batches",
            "entries",
            "wallet",
            "qr dialog",
            "together dialog",
            "places",
            "nearby",
        }
        for view, found in views.items():
            assert found["score"] == 1, (mode, view, found["failing"])


@NEEDS_BROWSER
async def test_the_draw_record_reads_as_a_page_and_recomputes_in_the_browser(
    resident: Resident, browser: Any
) -> None:
    """开奖记录（可复核）: the commitment, the seed, the winners, the resident's place in the
    ranking, the draw recomputed in the browser, the JSON a tap away; both text sizes."""
    context = await browser.new_context(
        viewport={"width": 375, "height": 812}, is_mobile=True, has_touch=True, locale="zh-CN"
    )
    context.set_default_timeout(10_000)
    page = await context.new_page()
    failed: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    await page.goto(resident.base + "/")
    await page.evaluate(f"sessionStorage.setItem('{TOKEN_KEY}', '{resident.token}')")
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{resident.base}/api/v1/batches/{resident.drawn_id}/draw") as resp:
            record = await resp.json()
        async with http.get(
            f"{resident.base}/api/v1/me/entries",
            headers={"Authorization": f"Bearer {resident.token}"},
        ) as resp:
            (entry,) = [e for e in await resp.json() if e["batch_id"] == resident.drawn_id]
    place = record["entry_ids"].index(entry["entry_id"]) + 1
    for mode, large in (("standard", "0"), ("large", "1")):
        await page.goto(f"{resident.base}/draw?batch={resident.drawn_id}&large={large}")
        await page.wait_for_selector("#my-rank")
        await page.wait_for_load_state("networkidle")
        assert failed == []
        assert await page.inner_text("#draw-title") == "汽车消费券（摇号·已开奖）"
        assert await page.inner_text("#commitment") == record["seed_commitment"]
        assert await page.inner_text("#seed") == record["seed"]
        assert (await page.inner_text("#winners")).split() == record["winner_entry_ids"]
        assert f"我的报名排第 {place} 位" in await page.inner_text("#my-rank")
        await page.click("#verify")
        await page.wait_for_selector("#verified")
        assert "复核通过" in await page.inner_text("#verified")
        await assert_tappable_and_legible(page, f"{mode} draw record")
        await shot(page, f"resident-{mode}-draw-record")
    assert await page.get_attribute("#json", "href") == f"/api/v1/batches/{resident.drawn_id}/draw"
    # A record that does not check out says so (a winner swapped for a loser).
    tampered = await page.evaluate(
        """async (id) => {
          const { verifyRecord } = await import('/static/lottery-verify.js');
          const record = await (await fetch(`/api/v1/batches/${id}/draw`)).json();
          record.seed = record.seed.replace(/^./, (c) => (c === '0' ? '1' : '0'));
          return verifyRecord(record);
        }""",
        resident.drawn_id,
    )
    assert tampered and "承诺值" in tampered[0]
    await context.close()
