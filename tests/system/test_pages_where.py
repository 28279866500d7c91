"""Where to spend and joining, in a real browser (Debian's Chromium driven by Playwright)
against the real service: a resident sees where a voucher can be used, nearest first when
the browser may know where they are; a business applies on /join; the bureau approves it on
/bureau; the merchant collects its api key on /cashier. Screenshots go to
test-output/screenshots/."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from aiohttp.test_utils import TestServer

from service.app import create_app
from service.auth import hash_password, issue_token
from service.clock import Clock
from service.settings import Settings
from service.sms import CapturingSmsSender
from tests.support.factories import credit_code, live_batch_body, merchant_body
from tests.support.pages import NEEDS_BROWSER, SHOTS, shot, sign_in

pytestmark = NEEDS_BROWSER

# A resident at home near 营市街, and three dining places around.
HOME = {"latitude": 36.6585, "longitude": 116.9605}
PLACES = [
    # (name, street, lat, lng)
    ("老济南把子肉营市街店", "营市街街道", 36.6590, 116.9612),  # ~100 m
    ("超意兴快餐段店店", "段店北路街道", 36.6601, 116.9412),  # ~1.7 km
    ("匡山老味道水饺", "匡山街道", 36.6905, 116.9310),  # ~4.4 km
]


@dataclass
class Live:
    base: str
    settings: Settings
    sms: CapturingSmsSender
    session: Any

    def headers(self, role: str, sub: str = "tester", mid: int | None = None) -> dict[str, str]:
        token, _ = issue_token(self.settings, role=role, sub=sub, merchant_id=mid)
        return {"Authorization": f"Bearer {token}"}

    async def call(self, method: str, path: str, expect: int, **kw: Any) -> Any:
        async with self.session.request(method, self.base + path, **kw) as resp:
            body = await resp.json()
            assert resp.status == expect, body
            return body

    async def merchant(self, **overrides: Any) -> int:
        body = await self.call(
            "POST",
            "/api/v1/admin/merchants",
            201,
            json=merchant_body(**overrides),
            headers=self.headers("bureau"),
        )
        return int(body["merchant"]["id"])

    async def sql(self, query: str, *args: Any) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.settings.database_url)
        try:
            return list(await conn.fetch(query, *args))
        finally:
            await conn.close()


@pytest.fixture
async def live(settings: Settings) -> AsyncIterator[Live]:
    """The real service on a real port, on the real clock (the browser has one too)."""
    import aiohttp

    sms = CapturingSmsSender()
    app = create_app(settings=settings, clock=Clock(), sms=sms)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    async with aiohttp.ClientSession() as session:
        yield Live(str(server.make_url("")).rstrip("/"), settings, sms, session)
    await server.close()


def closed_now() -> str:
    """Hours that are closed right now in Beijing: an hour, twelve hours from now."""
    hour = (datetime.now(ZoneInfo("Asia/Shanghai")).hour + 12) % 24
    return f"{hour:02d}:00-{(hour + 1) % 24:02d}:00"


async def resident_page(live: Live, browser: Any, phone: str, **context: Any) -> Any:
    ctx = await browser.new_context(
        viewport={"width": 375, "height": 812}, locale="zh-CN", **context
    )
    ctx.set_default_timeout(10_000)
    page = await ctx.new_page()
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    await page.goto(live.base + "/")
    await page.fill("#phone", phone)
    await page.click("#send-code")
    await page.wait_for_selector("#send-code:has-text('秒后重发')")
    await page.fill("#code", live.sms.codes[phone])
    await page.click("#sign-in")
    await page.wait_for_selector("#app:visible")
    page.asked = asked
    return page


async def test_a_voucher_lists_where_it_can_be_used_nearest_first(live: Live, browser: Any) -> None:
    ids = [
        await live.merchant(
            name=name, category="dining", street=street, lat=lat, lng=lng, hours="00:00-24:00"
        )
        for name, street, lat, lng in PLACES
    ]
    shut = await live.merchant(
        name="西站牛肉面",
        category="dining",
        street="吴家堡街道",
        lat=36.67,
        lng=116.90,
        hours=closed_now(),
    )
    elsewhere = await live.merchant(
        name="济南远大购物广场", category="shopping", street="南辛庄街道"
    )
    # The batch names its merchants: the third place and the shut one are not on its list.
    batch = await live.call(
        "POST",
        "/api/v1/admin/batches",
        201,
        json=live_batch_body(title="餐饮券 满50减10（指定商户）", merchant_ids=ids[:2]),
        headers=live.headers("bureau"),
    )
    page = await resident_page(
        live, browser, "13912345678", geolocation=HOME, permissions=["geolocation"]
    )
    card = page.locator(f"[data-batch='{batch['id']}']")
    await card.locator("button", has_text="立即领取").click()
    await page.wait_for_selector(".toast.ok:has-text('领取成功')")
    await page.click("#tab-wallet")
    voucher = page.locator(".voucher").first
    await voucher.locator("button", has_text="可用商户").click()
    sheet = page.locator("#places-modal")
    await sheet.locator("[data-order='near']").wait_for()
    await sheet.locator(".place").nth(1).wait_for()
    shown = [
        int(x)
        for x in await sheet.locator(".place").evaluate_all(
            "(nodes) => nodes.map((n) => n.dataset.merchant)"
        )
    ]
    assert shown == ids[:2]  # only the batch's list, nearest first
    first = await sheet.locator(".place").first.inner_text()
    assert "米" in first and "营市街街道" in first and "营业中" in first
    assert "公里" in await sheet.locator(".place").nth(1).inner_text()
    await shot(page, "resident-voucher-where")
    await page.click("#places-close")

    # 附近商户: everyone, nearest first; the placed before the unplaced; 只看营业中 hides the shut.
    await page.click("#tab-nearby")
    nearby = page.locator("#nearby")
    assert (
        await page.locator("a[href='/join']").count() == 0
        or not await page.locator("a[href='/join']").is_visible()
    )
    await nearby.locator(f"[data-merchant='{elsewhere}']").wait_for()
    order = [
        int(x)
        for x in await nearby.locator(".place").evaluate_all(
            "(nodes) => nodes.map((n) => n.dataset.merchant)"
        )
    ]
    assert order == [*ids, shut, elsewhere]
    assert "休息中" in await nearby.locator(f"[data-merchant='{shut}']").inner_text()
    await shot(page, "resident-nearby")
    await page.check("#nearby-open")
    await nearby.locator("[data-order]").wait_for()
    await nearby.locator(f"[data-merchant='{shut}']").wait_for(state="detached")
    await nearby.locator(f"[data-merchant='{ids[2]}']").wait_for()
    assert await nearby.locator(".place").count() == 3  # unknown hours are not "open now"
    assert all(u.startswith((live.base, "blob:", "data:")) for u in page.asked)
    await page.context.close()


async def test_without_a_location_the_list_is_by_street(live: Live, browser: Any) -> None:
    for name, street, lat, lng in PLACES:
        await live.merchant(name=name, category="dining", street=street, lat=lat, lng=lng)
    page = await resident_page(live, browser, "13912345679")  # no permission: refused
    await page.click("#tab-nearby")
    await page.locator("#nearby [data-order='street']").wait_for()
    await page.locator("#nearby .place").nth(2).wait_for()
    assert "按街道排列" in await page.inner_text("#nearby")
    assert "米" not in await page.inner_text("#nearby .places")
    expected = await live.call("GET", "/api/v1/merchants", 200)
    shown = [
        int(x)
        for x in await page.locator("#nearby .place").evaluate_all(
            "(nodes) => nodes.map((n) => n.dataset.merchant)"
        )
    ]
    assert shown == [m["id"] for m in expected["items"]]
    await page.context.close()


async def test_a_business_applies_on_the_join_page(live: Live, browser: Any) -> None:
    await live.merchant(credit_code=(taken := credit_code()), name="已参与的店")
    ctx = await browser.new_context(
        viewport={"width": 390, "height": 900},
        locale="zh-CN",
        geolocation={"latitude": 36.6612, "longitude": 116.9587},
        permissions=["geolocation"],
    )
    ctx.set_default_timeout(10_000)
    page = await ctx.new_page()
    await page.goto(live.base + "/join")
    await page.fill("#name", "老街坊煎饼果子铺")
    await page.fill("#credit_code", taken[:-1] + ("0" if taken[-1] != "0" else "1"))
    await page.select_option("#category", "dining")
    await page.fill("#street", "营市街街道")
    await page.fill("#address", "济南市槐荫区营市街128号")
    await page.fill("#opens", "06:30")
    await page.fill("#closes", "13:30")
    await page.click("#locate")
    await page.wait_for_selector("#position:has-text('已定位')")
    await page.fill("#account_name", "老街坊煎饼果子铺")
    await page.fill("#account_no", "6228480402564890018")
    phone = "13812348888"
    await page.fill("#contact_phone", phone)
    await page.click("#send-code")
    await page.wait_for_selector("#send-code:has-text('秒后重发')")
    code = live.sms.codes[phone]
    # A wrong check character is caught before anything is sent.
    await page.fill("#code", code)
    await page.click("#submit")
    await page.wait_for_selector("[data-field='credit_code']:has-text('统一社会信用代码')")
    # The check character right, but the business is already a merchant: the service says so.
    await page.fill("#credit_code", taken)
    await page.click("#submit")
    await page.wait_for_selector("[data-field='credit_code']:has-text('已是参与商户')")
    await shot(page, "join-refused")
    # A wrong code, then its own.
    fresh = credit_code()
    await page.fill("#credit_code", fresh)
    await page.fill("#code", "000000" if code != "000000" else "111111")
    await page.click("#submit")
    await page.wait_for_selector("[data-field='code']:has-text('还可再试 4 次')")
    await page.fill("#code", code)
    await page.click("#submit")
    await page.wait_for_selector("#done:visible")
    await shot(page, "join-done")
    (row,) = await live.sql("SELECT * FROM merchant_applications")
    assert (row["id"], row["credit_code"], row["status"]) == (
        int(await page.inner_text("#done-id")),
        fresh,
        "submitted",
    )
    assert (row["hours"], row["street"], row["contact_phone"]) == (
        "06:30-13:30",
        "营市街街道",
        phone,
    )
    assert abs(row["lat"] - 36.6612) < 1e-6 and abs(row["lng"] - 116.9587) < 1e-6
    await ctx.close()


async def test_the_bureau_approves_and_the_merchant_collects_its_key(
    live: Live, browser: Any
) -> None:
    async def applied(name: str, phone: str) -> int:
        await live.call("POST", "/api/v1/auth/otp", 202, json={"phone": phone})
        body = {
            "name": name,
            "credit_code": credit_code(),
            "category": "dining",
            "address": "济南市槐荫区营市街128号",
            "street": "营市街街道",
            "contact_phone": phone,
            "code": live.sms.codes[phone],
            "account_name": name,
            "account_no": "6228480402564890018",
            "hours": "06:30-13:30",
        }
        return int((await live.call("POST", "/api/v1/merchant-applications", 201, json=body))["id"])

    keep = await applied("老街坊煎饼果子铺", "13812348888")
    drop = await applied("无证流动摊点", "13812349999")
    await live.sql(
        "INSERT INTO bureau_users (username, password_hash) VALUES ($1, $2)",
        "reviewer",
        hash_password("a long password 1"),
    )
    ctx = await browser.new_context(viewport={"width": 1280, "height": 1400}, locale="zh-CN")
    ctx.set_default_timeout(15_000)
    page = await ctx.new_page()
    await page.goto(live.base + "/bureau")
    await sign_in(page, "reviewer", "a long password 1")
    row = page.locator(f"#applications tr[data-application='{keep}']")
    await row.wait_for()
    text = await row.inner_text()
    assert "138****8888" in text and "**** **** 0018" in text and "13812348888" not in text
    await shot(page, "bureau-applications")
    await page.locator("#applications-card").screenshot(
        path=str(SHOTS / "bureau-applications-card.png")
    )
    await row.locator("button", has_text="通过").click()
    await page.wait_for_selector(".toast.error:has-text('请填写审核意见')")
    await row.locator("input").fill("材料齐全，同意")
    await row.locator("button", has_text="通过").click()
    await page.wait_for_selector("#applications-result:has-text('商户编号')")
    (made,) = await live.sql("SELECT merchant_id FROM merchant_applications WHERE id = $1", keep)
    mid = made["merchant_id"]
    assert f"商户编号 {mid}" in await page.inner_text("#applications-result")
    await page.locator("#merchants", has_text="老街坊煎饼果子铺").wait_for()
    other = page.locator(f"#applications tr[data-application='{drop}']")
    await other.locator("input").fill("无营业执照")
    await other.locator("button", has_text="驳回").click()
    await page.wait_for_selector("#applications-result:has-text('已驳回')")
    await page.wait_for_selector("#applications:has-text('暂无报名')")
    await page.select_option("#applications-status", "")
    await page.locator("#applications tr[data-application]").nth(1).wait_for()
    assert "已驳回" in await page.inner_text(f"#applications tr[data-application='{drop}']")
    await page.locator("#applications-card").screenshot(
        path=str(SHOTS / "bureau-applications-decided.png")
    )
    await ctx.close()

    # The merchant, told its id by SMS, collects a key at /cashier and signs in with it.
    ctx = await browser.new_context(viewport={"width": 800, "height": 1100}, locale="zh-CN")
    ctx.set_default_timeout(10_000)
    page = await ctx.new_page()
    await page.goto(live.base + "/cashier")
    await page.click("#key-open")
    await page.fill("#key-merchant-id", str(mid))
    await page.fill("#key-phone", "13812348888")
    live.sms.codes.pop("13812348888", None)
    # The application's code was sent within the minute: the limit says wait.
    await page.click("#key-send-code")
    await page.wait_for_selector("#key-error:has-text('操作太频繁')")
    await live.sql("DELETE FROM rate_limits")  # a minute passes
    await page.click("#key-send-code")
    await page.wait_for_selector(".toast.ok:has-text('验证码已发送')")
    await page.fill("#key-code", live.sms.codes["13812348888"])
    await page.click("#key-issue")
    await page.wait_for_selector("#key-result:visible")
    key = await page.inner_text("#key-value")
    assert len(key) >= 32
    await shot(page, "cashier-key-collected")
    await page.click("#key-use")
    await page.wait_for_selector("#app:visible")
    # The header names the shop (issue 25), not 商户 {mid}.
    await page.wait_for_selector("#who:has-text('老街坊煎饼果子铺 · 店主')")
    await ctx.close()
