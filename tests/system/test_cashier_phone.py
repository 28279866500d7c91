"""The cashier page on a 375 px phone (issue 25): no sideways scroll, the 日结 inputs wide
enough to type in, 撤销 on screen, every control a 44 px target, and the header naming the
shop (not 商户 19), for the owner and a cashier; no 4xx/5xx while the page loads."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from service.app import create_app
from service.auth import issue_token
from service.clock import Clock
from service.settings import Settings
from service.sms import CapturingSmsSender
from tests.support.factories import live_batch_body, merchant_body
from tests.support.pages import NEEDS_BROWSER, TARGETS_JS, shot

pytestmark = NEEDS_BROWSER

PHONE = {"width": 375, "height": 812}
SHOP = "槐荫老街小馆"
MIN_TARGET_PX = 44
MIN_INPUT_PX = 120  # a date or a yuan amount must be readable while typed


@dataclass
class Till:
    base: str
    merchant_id: int
    owner_key: str
    cashier_key: str
    vouchers: list[str]


@pytest.fixture
async def till(settings: Settings) -> AsyncIterator[Till]:
    app = create_app(settings=settings, clock=Clock(), sms=CapturingSmsSender())
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    bureau, _ = issue_token(settings, role="bureau", sub="tester")
    resident, _ = issue_token(settings, role="resident", sub="r1")
    async with aiohttp.ClientSession(base) as http:

        async def post(path: str, token: str, body: Any = None) -> Any:
            async with http.post(
                path, json=body, headers={"Authorization": f"Bearer {token}"}
            ) as resp:
                assert resp.status == 201, await resp.text()
                return await resp.json()

        made = await post(
            "/api/v1/admin/merchants", bureau, merchant_body(name=SHOP, category="dining")
        )
        mid = made["merchant"]["id"]
        batch = await post("/api/v1/admin/batches", bureau, live_batch_body(per_resident_limit=2))
        codes = [
            (await post(f"/api/v1/batches/{batch['id']}/claims", resident))["code"]
            for _ in range(2)
        ]
        async with http.post(
            "/api/v1/auth/merchant", json={"merchant_id": mid, "api_key": made["api_key"]}
        ) as resp:
            owner = (await resp.json())["access_token"]
        cashier = await post("/api/v1/merchant/cashiers", owner, {"name": "王五"})
        yield Till(base, mid, made["api_key"], cashier["api_key"], codes)
    await server.close()


def failures(page: Any) -> list[str]:
    failed: list[str] = []
    page.on(
        "response",
        lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None,
    )
    return failed


async def assert_fits_a_phone(page: Any) -> None:
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page scrolls sideways: {width} px"
    small = [
        t
        for t in await page.evaluate(TARGETS_JS)
        if t["width"] < MIN_TARGET_PX - 0.5 or t["height"] < MIN_TARGET_PX - 0.5
    ]
    assert small == [], small


async def signed_in(browser: Any, till: Till, key: str) -> tuple[Any, Any]:
    context = await browser.new_context(viewport=PHONE, locale="zh-CN")
    context.set_default_timeout(10_000)
    page = await context.new_page()
    failed = failures(page)
    await page.goto(till.base + "/cashier")
    await page.wait_for_selector("#login:not([hidden])")
    await page.wait_for_load_state("networkidle")
    assert failed == []
    await assert_fits_a_phone(page)
    await page.fill("#merchant-id", str(till.merchant_id))
    await page.fill("#api-key", key)
    await page.click("#sign-in")
    await page.wait_for_selector("#app:not([hidden])")
    await page.wait_for_load_state("networkidle")
    assert failed == []
    return context, page


async def redeem(page: Any, code: str) -> None:
    await page.fill("#code", code)
    await page.click("#preview")
    await page.wait_for_selector("#preview-box:has-text('可在本店使用')")
    await page.fill("#amount", "88")
    await page.click("#redeem")
    await page.wait_for_selector(f"#today tr[data-redemption]:has-text('{code}')")


async def test_the_owner_works_the_till_on_a_phone(till: Till, browser: Any) -> None:
    context, page = await signed_in(browser, till, till.owner_key)
    await page.wait_for_selector(f"#who:has-text('{SHOP} · 店主')")
    assert "商户 " not in await page.inner_text("#who")
    await page.wait_for_selector("#cashiers tr[data-cashier]")
    await redeem(page, till.vouchers[0])
    await assert_fits_a_phone(page)

    # 日结: each input wide enough to read what is typed, and usable.
    for field in ("#turnover-date", "#turnover-amount", "#turnover-count"):
        box = await page.locator(field).bounding_box()
        assert box["width"] >= MIN_INPUT_PX, (field, box)
    for field in ("#statement-from", "#statement-to"):
        box = await page.locator(field).bounding_box()
        assert box["width"] >= MIN_INPUT_PX, (field, box)

    # 撤销 on screen: inside the phone's width, no sideways scroll to reach it.
    undo = page.locator("#today button", has_text="撤销")
    box = await undo.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
    row = await page.inner_text(f"#today tr[data-redemption]:has-text('{till.vouchers[0]}')")
    assert "¥88.00" in row and "¥10.00" in row
    # Without the table's header, each amount says what it is.
    labels = await page.eval_on_selector_all(
        "#today tr[data-redemption] td[data-label]",
        "(tds) => tds.map((td) => getComputedStyle(td, '::before').content)",
    )
    assert labels[:3] == ['"订单 "', '"优惠 "', '"收银员 "'], labels
    await shot(page, "cashier-owner-375")
    await undo.click()
    await page.wait_for_selector("#today td.status:has-text('已撤销')")
    await context.close()


async def test_a_cashier_sees_the_shop_name_on_a_phone(till: Till, browser: Any) -> None:
    context, page = await signed_in(browser, till, till.cashier_key)
    await page.wait_for_selector(f"#who:has-text('{SHOP} · 收银员 王五')")
    await redeem(page, till.vouchers[1])
    await assert_fits_a_phone(page)
    await shot(page, "cashier-cashier-375")
    # After a reload the header still names the shop.
    await page.reload()
    await page.wait_for_selector(f"#who:has-text('{SHOP}')")
    await context.close()


async def test_a_cashier_signs_in_with_the_code_or_the_qr_the_owner_shows(
    till: Till, browser: Any
) -> None:
    owner_context, owner = await signed_in(browser, till, till.owner_key)
    await owner.click("#cashiers button[data-pair]")
    await owner.wait_for_selector("#pairing:not([hidden]) #pairing-code")
    shown = await owner.inner_text("#pairing-code")
    assert len(shown.replace("-", "")) == 8
    assert await owner.eval_on_selector(".pair-qr", "(img) => img.complete && img.naturalWidth > 0")
    assert "后失效" in await owner.inner_text("#pairing")
    await assert_fits_a_phone(owner)
    await shot(owner, "cashier-pairing-owner-375")

    # The cashier's phone types the code as it reads it.
    context = await browser.new_context(viewport=PHONE, locale="zh-CN")
    context.set_default_timeout(10_000)
    page = await context.new_page()
    failed = failures(page)
    await page.goto(till.base + "/cashier")
    await page.wait_for_selector("#login:not([hidden])")
    await assert_fits_a_phone(page)
    await page.click("#pair-sign-in")
    assert await page.inner_text("#login-error") == "请输入配对码"
    await page.fill("#pair-code", "ZZZZ-ZZZZ")
    await page.click("#pair-sign-in")
    await page.wait_for_selector("#login-error:has-text('配对码无效')")
    assert failed == ["401 " + till.base + "/api/v1/auth/cashier-pairing"]
    await page.fill("#pair-code", shown.lower())
    await page.click("#pair-sign-in")
    await page.wait_for_selector(f"#who:has-text('{SHOP} · 收银员 王五')")
    await context.close()

    # A second code, scanned: the QR opens the page with the code in its fragment.
    await owner.click("#cashiers button[data-pair]")
    await owner.wait_for_function(
        "(old) => document.getElementById('pairing-code')?.textContent !== old", arg=shown
    )
    scanned = (await owner.inner_text("#pairing-code")).replace("-", "")
    context = await browser.new_context(viewport=PHONE, locale="zh-CN")
    context.set_default_timeout(10_000)
    page = await context.new_page()
    failed = failures(page)
    await page.goto(f"{till.base}/cashier#pair={scanned}")
    await page.wait_for_selector(f"#who:has-text('{SHOP} · 收银员 王五')")
    await page.wait_for_load_state("networkidle")
    assert failed == [] and "#pair" not in page.url
    await shot(page, "cashier-paired-375")
    await context.close()
    await owner_context.close()
