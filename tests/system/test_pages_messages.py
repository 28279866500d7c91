"""What a resident or cashier reads when something is refused (issue 25): Chinese only, money
in 元, built in the pages from the error's `code` and `details` (service/web/common.js), never
the server's English `message`; the sign-in forms say what is missing before sending. Every
ErrorCode is worded through the page's own code, and the common refusals are walked for real
in Chromium at 375 px, with no 4xx/5xx while the pages load."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from service.app import create_app
from service.auth import issue_token
from service.clock import Clock
from service.errors import ErrorCode
from service.settings import Settings
from service.sms import CapturingSmsSender
from tests.support.factories import live_batch_body, merchant_body
from tests.support.pages import NEEDS_BROWSER, shot

pytestmark = NEEDS_BROWSER

PHONE = {"width": 375, "height": 812}
# Latin letters a person may meet in a message: none. (Voucher codes are named by the pages
# outside the message; ¥ and digits are not letters.)
LATIN = re.compile(r"[A-Za-z]")

# Details as the service sends them (service/domain/*), English message beside each.
SAMPLES: dict[str, list[dict[str, Any]]] = {
    "below_min_spend": [{"min_spend_fen": 5000, "order_amount_fen": 3000}],
    "merchant_cap_reached": [
        {"daily_subsidy_cap_fen": 50000, "paid_today_fen": 49500, "discount_fen": 1000}
    ],
    "over_budget": [{"category": "dining", "needed_fen": 100000, "available_fen": 2500}],
    "limit_reached": [{"per_resident_limit": 2}, {"max_cashiers": 20}],
    "not_open": [{"claim_starts_at": "2026-05-01T10:00:00+08:00"}],
    "rate_limited": [{"retry_after_seconds": 42}],
    "invalid_request": [
        {"phone": ["Not a valid phone number."]},
        {"order_amount_fen": ["Must be greater than 0."], "unknown_field": ["Unknown field."]},
        {"from": ["The range may span at most 366 days."]},
    ],
    "implausible": [{"sales_fen": ["More than 20 × this merchant's median day (5000 fen)."]}],
    "not_found": [{"code": "HY7K-3M9Q-X2"}],
    "unauthorized": [{"reason": "locked"}, {"attempts_left": 3}],
    "day_not_over": [{"date": "2026-05-01", "today": "2026-05-01"}],
}


@dataclass
class Shop:
    base: str
    merchant_id: int
    api_key: str
    voucher: str
    sms: CapturingSmsSender


@pytest.fixture
async def shop(settings: Settings) -> AsyncIterator[Shop]:
    sms = CapturingSmsSender()
    app = create_app(settings=settings, clock=Clock(), sms=sms)
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

        made = await post("/api/v1/admin/merchants", bureau, merchant_body(category="dining"))
        batch = await post("/api/v1/admin/batches", bureau, live_batch_body())
        voucher = await post(f"/api/v1/batches/{batch['id']}/claims", resident)
        yield Shop(base, made["merchant"]["id"], made["api_key"], voucher["code"], sms)
    await server.close()


def failures_while_loading(page: Any) -> list[str]:
    """Every 4xx/5xx answer the page gets; the test reads it right after the page has loaded."""
    failed: list[str] = []
    page.on(
        "response",
        lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None,
    )
    return failed


def assert_chinese(text: str) -> None:
    assert text.strip() and not LATIN.search(text), text


async def test_every_error_code_is_worded_in_chinese_with_money_in_yuan(
    shop: Shop, browser: Any
) -> None:
    context = await browser.new_context(viewport=PHONE, locale="zh-CN")
    page = await context.new_page()
    failed = failures_while_loading(page)
    await page.goto(shop.base + "/")
    await page.wait_for_selector("#login:not([hidden])")
    assert failed == []
    cases = [(code.value, d) for code in ErrorCode for d in [{}, *SAMPLES.get(code.value, [])]]
    worded = await page.evaluate(
        """async (cases) => {
          const { ApiError, ERROR_TEXT } = await import('/static/common.js');
          return cases.map(([code, details]) => ({
            code, known: code in ERROR_TEXT,
            text: new ApiError(409, code, `english message for ${code}: 5000 fen`, details).text,
          }));
        }""",
        cases,
    )
    assert [w["code"] for w in worded if not w["known"]] == []
    for w in worded:
        assert_chinese(w["text"])
        assert "fen" not in w["text"] and "english" not in w["text"]
    texts = {w["text"] for w in worded}
    assert "未达到使用门槛（需消费满 ¥50.00，本单 ¥30.00）" in texts
    assert "本店今日补贴已达上限（每日上限 ¥500.00，今日已用 ¥495.00）" in texts
    assert "超出该品类预算（尚余 ¥25.00）" in texts
    assert "输入有误（请检查手机号）" in texts
    assert "已达到每人领取上限（每人限领 2 张）" in texts
    assert "收银员账号已达上限（最多 20 个，请先移除一个）" in texts
    assert "输入有误（请检查消费金额）" in texts
    # A bug in the page (not an API error) is not shown in English either.
    assert_chinese(
        await page.evaluate(
            """async () => (await import('/static/common.js')).errorText(new TypeError('x is undefined'))"""
        )
    )
    await context.close()


async def test_the_resident_sign_in_says_what_is_missing_and_what_went_wrong(
    shop: Shop, browser: Any
) -> None:
    context = await browser.new_context(viewport=PHONE, locale="zh-CN")
    context.set_default_timeout(10_000)
    page = await context.new_page()
    failed = failures_while_loading(page)
    await page.goto(shop.base + "/")
    await page.wait_for_selector("#login:not([hidden])")
    assert failed == []
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if "/auth/" in r.url else None)

    await page.click("#send-code")
    assert await page.inner_text("#login-error") == "请输入手机号"
    await page.fill("#phone", "1391234")
    await page.click("#send-code")
    assert await page.inner_text("#login-error") == "请输入 11 位手机号"
    assert await page.get_attribute("#phone", "aria-invalid") == "true"
    phone = "13912345678"
    await page.fill("#phone", phone)
    await page.click("#sign-in")
    assert await page.inner_text("#login-error") == "请输入验证码"
    assert await page.get_attribute("#code", "aria-invalid") == "true"
    assert sent == []  # nothing left the page for an empty form

    await page.click("#send-code")
    await page.wait_for_selector("#send-code:has-text('秒后重发')")
    wrong = "000000" if shop.sms.codes[phone] != "000000" else "111111"
    await page.fill("#code", wrong)
    await page.click("#sign-in")
    await page.wait_for_selector("#login-error:has-text('验证码不正确')")
    assert_chinese(await page.inner_text("#login-error"))
    await shot(page, "messages-resident-sign-in-375")
    await context.close()


async def test_the_cashier_reads_refusals_in_chinese_with_money_in_yuan(
    shop: Shop, browser: Any
) -> None:
    context = await browser.new_context(viewport=PHONE, locale="zh-CN")
    context.set_default_timeout(10_000)
    page = await context.new_page()
    failed = failures_while_loading(page)
    await page.goto(shop.base + "/cashier")
    await page.wait_for_selector("#login:not([hidden])")
    assert failed == []

    await page.click("#sign-in")
    assert await page.inner_text("#login-error") == "请输入商户编号"
    await page.fill("#merchant-id", str(shop.merchant_id))
    await page.click("#sign-in")
    assert await page.inner_text("#login-error") == "请输入接入密钥"
    await page.fill("#api-key", "hy_wrong_key_000000000000000000000000000000")
    await page.click("#sign-in")
    await page.wait_for_selector("#login-error:has-text('不正确')")
    assert_chinese(await page.inner_text("#login-error"))

    failed.clear()
    await page.fill("#api-key", shop.api_key)
    await page.click("#sign-in")
    await page.wait_for_selector("#app:not([hidden])")
    await page.wait_for_load_state("networkidle")
    assert failed == []

    await page.fill("#code", "HYNO-SUCH-CODE")
    await page.click("#preview")
    await page.wait_for_selector("#preview-box .error-text")
    assert_chinese(await page.inner_text("#preview-box"))

    await page.fill("#code", shop.voucher)
    await page.click("#preview")
    await page.wait_for_selector("#preview-box:has-text('可在本店使用')")
    await page.fill("#amount", "30")
    await page.click("#redeem")
    result = page.locator("#redeem-result .error-text")
    await result.wait_for()
    text = await result.inner_text()
    assert text.startswith("未达到使用门槛（需消费满 ¥50.00，本单 ¥30.00）"), text
    assert "fen" not in text and "voucher" not in text
    await shot(page, "messages-cashier-below-min-spend-375")
    await context.close()
