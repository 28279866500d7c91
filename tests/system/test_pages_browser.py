"""The three pages in a real browser (Debian's Chromium driven by Playwright) against the real
service: a resident signs in and claims, a cashier redeems once despite a lost answer and
reverses, the bureau sees the same totals as the API and downloads CSV. Screenshots are left
in test-output/screenshots/ for a reviewer."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestServer

from jobs.registry import BY_NAME
from jobs.runner import JobRunner
from service import keys
from service.app import create_app
from service.auth import hash_password, issue_token
from service.clock import Clock
from service.schemas.common import columns
from service.schemas.ledger import StatementDay
from service.schemas.stats import DailyRow
from service.settings import Settings
from service.sms import CapturingSmsSender
from tests.support.downloads import csv_body, csv_dicts, sheet_rows, workbook_sheet
from tests.support.factories import live_batch_body, merchant_body
from tests.support.pages import NEEDS_BROWSER, shot, sign_in

pytestmark = NEEDS_BROWSER


@dataclass
class Live:
    base: str
    app: Any
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

    async def merchant(self, category: str = "dining") -> tuple[int, str]:
        body = await self.call(
            "POST",
            "/api/v1/admin/merchants",
            201,
            json=merchant_body(category=category),
            headers=self.headers("bureau"),
        )
        return body["merchant"]["id"], body["api_key"]

    async def bureau_account(self, username: str, password: str) -> None:
        """A bureau account to sign in with on the page (as `festival admin create` makes)."""
        conn = await asyncpg.connect(self.settings.database_url)
        try:
            await conn.execute(
                "INSERT INTO bureau_users (username, password_hash) VALUES ($1, $2)",
                username,
                hash_password(password),
            )
        finally:
            await conn.close()

    async def batch(self, **overrides: Any) -> dict[str, Any]:
        body = live_batch_body(**{"quantity": 50, **overrides})
        return await self.call(
            "POST", "/api/v1/admin/batches", 201, json=body, headers=self.headers("bureau")
        )


@pytest.fixture
async def live(settings: Settings) -> AsyncIterator[Live]:
    """The real service on a real port, on the real clock (the browser has one too)."""
    import aiohttp

    sms = CapturingSmsSender()
    app = create_app(settings=settings, clock=Clock(), sms=sms)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    async with aiohttp.ClientSession() as session:
        yield Live(str(server.make_url("")).rstrip("/"), app, settings, sms, session)
    await server.close()


def offline_only(page: Any, base: str) -> list[str]:
    """Every address the page asks for; the test checks none leaves this service."""
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    return asked


def assert_local(asked: list[str], base: str) -> None:
    assert asked and all(u.startswith((base, "blob:", "data:")) for u in asked), [
        u for u in asked if not u.startswith((base, "blob:", "data:"))
    ]


async def test_a_resident_signs_in_claims_and_shows_the_qr_code(live: Live, browser: Any) -> None:
    batch = await live.batch(title="餐饮券 满50减10（今日）", per_resident_limit=2)
    await live.batch(
        title="购物券 满100减20（明日）",
        category="shopping",
        face_value_fen=2000,
        min_spend_fen=10000,
        claim_starts_at=(datetime.now(UTC) + timedelta(days=1)).isoformat(),
        claim_ends_at=(datetime.now(UTC) + timedelta(days=2)).isoformat(),
    )
    phone = "13912345678"
    context = await browser.new_context(viewport={"width": 375, "height": 812}, locale="zh-CN")
    context.set_default_timeout(10_000)
    page = await context.new_page()
    asked = offline_only(page, live.base)
    await page.goto(live.base + "/")
    await page.fill("#phone", phone)
    await page.click("#send-code")
    await page.wait_for_selector("#send-code:has-text('秒后重发')")
    await page.fill("#code", live.sms.codes[phone])
    await page.click("#sign-in")

    card = page.locator(f"[data-batch='{batch['id']}']")
    await card.wait_for()
    assert "剩余 50 / 50 张" in await card.inner_text()
    assert "距开抢" in await page.locator(".batch", has_text="明日").inner_text()
    await shot(page, "resident-batches")
    # The first tap's answer is lost on the way back (the claim reached the server): 重试
    # sends the same tap, which the server answers as the first time, without a second voucher.
    lost = {"count": 0}

    async def lose_first_answer(route: Any) -> None:
        if lost["count"] == 0:
            lost["count"] += 1
            await route.fetch()
            await route.abort("connectionreset")
        else:
            await route.continue_()

    await page.route(f"**/api/v1/batches/{batch['id']}/claims", lose_first_answer)
    await card.locator("button", has_text="立即领取").click()
    await page.wait_for_selector(".toast.error:has-text('网络异常')")
    await card.locator("button", has_text="重试").click()
    await page.wait_for_selector(".toast.ok:has-text('领取成功')")
    await page.wait_for_selector(f"[data-batch='{batch['id']}']:has-text('剩余 49 / 50 张')")
    # A new tap is a new claim; the one after it hits the per-resident limit of 2.
    await card.locator("button", has_text="立即领取").click()
    await page.wait_for_selector(f"[data-batch='{batch['id']}']:has-text('剩余 48 / 50 张')")
    await card.locator("button", has_text="立即领取").click()
    await page.wait_for_selector(".toast.error:has-text('已达到每人领取上限')")

    await page.click("#tab-wallet")
    voucher = page.locator(".voucher").first
    await voucher.wait_for()
    code = await voucher.get_attribute("data-code")
    assert code and code[:4] in await voucher.inner_text()
    await voucher.locator("button", has_text="出示二维码").click()
    image = page.locator("#qr-image")
    for _ in range(100):  # the QR is fetched with the token, then shown from a blob
        if await image.evaluate("(img) => img.complete && img.naturalWidth") > 0:
            break
        await page.wait_for_timeout(100)
    assert await image.evaluate("(img) => img.naturalWidth") > 0
    box = await image.bounding_box()
    assert box and box["width"] >= 240 and box["height"] >= 240  # scannable from a phone
    assert await image.get_attribute("src") and "token" not in (await image.get_attribute("src"))
    await shot(page, "resident-wallet-qr")
    await page.click("#qr-close")
    # Expiry reminders by SMS: on, to the masked phone; switched off from the wallet.
    assert "139****5678" in await page.locator("#sms-phone").inner_text()
    assert await page.locator("#sms-reminders").is_checked()
    await page.locator("#sms-reminders").uncheck()
    await page.wait_for_selector(".toast.ok:has-text('已关闭到期提醒')")
    assert not await page.locator("#sms-reminders").is_checked()
    # The token stays in session storage, never in an address.
    assert not any("eyJ" in u for u in asked)
    assert_local(asked, live.base)
    await context.close()


async def test_a_cashier_redeems_once_despite_a_lost_answer_then_reverses(
    live: Live, browser: Any
) -> None:
    mid, api_key = await live.merchant("dining")
    batch = await live.batch()
    voucher = await live.call(
        "POST", f"/api/v1/batches/{batch['id']}/claims", 201, headers=live.headers("resident", "r1")
    )
    context = await browser.new_context(viewport={"width": 800, "height": 1000}, locale="zh-CN")
    context.set_default_timeout(10_000)
    page = await context.new_page()
    asked = offline_only(page, live.base)
    await page.goto(live.base + "/cashier")
    await page.fill("#merchant-id", str(mid))
    await page.fill("#api-key", api_key)
    await page.click("#sign-in")
    await page.fill("#code", voucher["code"].lower())
    await page.click("#preview")
    await page.wait_for_selector("#preview-box:has-text('可在本店使用')")
    await page.fill("#amount", "120.50")
    assert "优惠 ¥10.00，应付 ¥110.50" in await page.inner_text("#sums")

    # The first answer is lost on the way back: the request reached the server.
    lost = {"count": 0}

    async def lose_first_answer(route: Any) -> None:
        if lost["count"] == 0:
            lost["count"] += 1
            await route.fetch()
            await route.abort("connectionreset")
        else:
            await route.continue_()

    await page.route("**/api/v1/merchant/redemptions", lose_first_answer)
    await page.click("#redeem")
    await page.wait_for_selector("#retry:visible")
    assert "网络异常" in await page.inner_text("#redeem-result")
    await page.click("#retry")
    await page.wait_for_selector("#redeem-result:has-text('核销成功')")
    assert "应付 ¥110.50" in await page.inner_text("#redeem-result")

    # Exactly one redemption, for 120.50 yuan in fen.
    conn = await asyncpg.connect(live.settings.database_url)
    try:
        rows = await conn.fetch("SELECT order_amount_fen, status FROM redemptions")
    finally:
        await conn.close()
    assert [(r["order_amount_fen"], r["status"]) for r in rows] == [(12050, "completed")]
    row = page.locator("#today tr[data-redemption]")
    await row.wait_for()
    assert "已核销" in await row.inner_text()
    assert "1 笔" in await page.inner_text("#totals")
    await shot(page, "cashier-redeemed")
    await row.locator("button", has_text="撤销").click()
    await page.wait_for_selector("#today tr[data-redemption]:has-text('已撤销')")
    assert "0 笔" in await page.inner_text("#totals")

    # A voucher from elsewhere: the preview says why not, in plain words.
    other = await live.batch(category="shopping", face_value_fen=2000, min_spend_fen=10000)
    foreign = await live.call(
        "POST", f"/api/v1/batches/{other['id']}/claims", 201, headers=live.headers("resident", "r2")
    )
    await page.fill("#code", foreign["qr"])  # as scanned
    await page.click("#preview")
    await page.wait_for_selector("#preview-box:has-text('该券不能在本店使用')")
    await shot(page, "cashier-not-eligible")

    # The day's 日结: the whole takings, vouchers or not, as the recovery estimate needs them.
    await page.fill("#turnover-amount", "8,000")
    await page.click("#turnover-save")
    await page.wait_for_selector(".toast.error")  # not a yuan amount: nothing sent
    await page.fill("#turnover-amount", "8650.50")
    await page.fill("#turnover-count", "93")
    await page.click("#turnover-save")
    await page.wait_for_selector("#turnover-result:has-text('日结已提交：¥8,650.50')")
    mine = await live.call(
        "GET", "/api/v1/merchant/turnover", 200, headers=live.headers("merchant", f"m{mid}", mid)
    )
    assert [(d["sales_fen"], d["transactions"], d["source"]) for d in mine["items"]] == [
        (865_050, 93, "merchant")
    ]
    assert_local(asked, live.base)
    await context.close()


async def decoded_qr(page: Any, selector: str) -> str:
    """The text of the QR code an <img> shows, read by jsQR (the cashier page's own decoder)
    from the pixels as the browser drew them: what a phone camera would scan."""
    await page.add_script_tag(url="/static/vendor/jsQR.js")
    return str(
        await page.eval_on_selector(
            selector,
            """(img) => {
              const canvas = document.createElement("canvas");
              canvas.width = img.naturalWidth * 2;
              canvas.height = img.naturalHeight * 2;
              const ctx = canvas.getContext("2d");
              ctx.fillStyle = "#fff";
              ctx.fillRect(0, 0, canvas.width, canvas.height);
              ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
              const pixels = ctx.getImageData(0, 0, canvas.width, canvas.height);
              const found = window.jsQR(pixels.data, canvas.width, canvas.height);
              return found ? found.data : "";
            }""",
        )
    )


async def test_a_resident_shows_several_vouchers_in_one_qr_and_the_cashier_redeems_them_all(
    live: Live, browser: Any
) -> None:
    batch = await live.batch(title="餐饮券 满50减10", per_resident_limit=3)
    other = await live.batch(
        title="购物券 满100减20", category="shopping", face_value_fen=2000, min_spend_fen=10000
    )
    mid, api_key = await live.merchant("dining")
    phone = "13912340001"
    context = await browser.new_context(viewport={"width": 375, "height": 812}, locale="zh-CN")
    context.set_default_timeout(10_000)
    page = await context.new_page()
    asked = offline_only(page, live.base)
    await page.goto(live.base + "/")
    await page.fill("#phone", phone)
    await page.click("#send-code")
    await page.wait_for_selector("#send-code:has-text('秒后重发')")
    await page.fill("#code", live.sms.codes[phone])
    await page.click("#sign-in")
    for claimed, times in ((batch, 3), (other, 1)):
        card = page.locator(f"[data-batch='{claimed['id']}']")
        for _ in range(times):
            await card.locator("button", has_text="立即领取").click()
            await page.wait_for_selector(".toast.ok:has-text('领取成功')")
            await page.evaluate("document.getElementById('toast').hidden = true")
    await page.click("#tab-wallet")
    await page.locator(".voucher").nth(3).wait_for()
    dining = page.locator(".voucher[data-category='dining']")
    shopping = page.locator(".voucher[data-category='shopping']")
    assert await dining.count() == 3 and await shopping.count() == 1
    # Two of the dining vouchers: the shopping one cannot join them (one category a checkout).
    await dining.nth(0).locator("[data-pick]").check()
    assert await shopping.locator("[data-pick]").is_disabled()
    await dining.nth(1).locator("[data-pick]").check()
    assert "已选 2 张餐饮券 · 共优惠 ¥20.00 · 需消费满 ¥100.00" in await page.inner_text(
        "#together-bar"
    )
    codes = [await dining.nth(i).get_attribute("data-code") for i in range(2)]
    async with page.expect_response("**/api/v1/me/checkout-qr?*") as answered:
        await page.click("#together")
    made = await (await answered.value).json()
    image = page.locator("#qr-image")
    for _ in range(100):
        if await image.evaluate("(img) => img.complete && img.naturalWidth") > 0:
            break
        await page.wait_for_timeout(100)
    box = await image.bounding_box()
    assert box and box["width"] >= 240  # scannable from a phone
    assert "合并使用 2 张券" in await page.inner_text("#qr-title")
    assert "餐饮券 2 张 · 共优惠 ¥20.00 · 消费满 ¥100.00 可用" in await page.inner_text("#qr-sum")
    expiry = await page.inner_text("#qr-expiry")
    assert "10 分钟内有效" in expiry and "剩余 9:5" in expiry, expiry
    await shot(page, "resident-checkout-qr")
    qr = await decoded_qr(page, "#qr-image")
    assert qr == made["qr"] and qr.startswith("HYC1.") and all(c in qr for c in codes)
    assert_local(asked, live.base)

    # The cashier scans it (a scanner types the string): both vouchers, their total, redeemed
    # together with the till's note.
    till = await browser.new_context(viewport={"width": 900, "height": 1100}, locale="zh-CN")
    till.set_default_timeout(10_000)
    cashier = await till.new_page()
    await cashier.goto(live.base + "/cashier")
    await cashier.fill("#merchant-id", str(mid))
    await cashier.fill("#api-key", api_key)
    await cashier.click("#sign-in")
    await cashier.wait_for_selector("#who:has-text('济南远大购物广场 · 店主')")
    await cashier.fill("#code", qr)
    await cashier.click("#preview")
    await cashier.wait_for_selector("#preview-box:has-text('全部可在本店使用')")
    listed = await cashier.inner_text("#preview-box")
    assert "合并使用 2 张券 · 共优惠 ¥20.00 · 消费满 ¥100.00 可用" in listed
    assert all(code in listed for code in codes)
    await cashier.fill("#amount", "99.99")
    assert "未满 ¥100.00" in await cashier.inner_text("#sums")
    await cashier.fill("#amount", "128.00")
    assert "2 张券合计优惠 ¥20.00，应付 ¥108.00" in await cashier.inner_text("#sums")
    await cashier.fill("#metadata", "收银台 2\n小票号 0031")
    await shot(cashier, "cashier-checkout-preview")
    await cashier.click("#redeem")
    await cashier.wait_for_selector(
        "#redeem-result:has-text('核销成功：2 张券，优惠 ¥20.00，应付 ¥108.00')"
    )
    rows = cashier.locator("#today tr[data-redemption]")
    await rows.nth(1).wait_for()
    texts = [await rows.nth(i).inner_text() for i in range(2)]
    assert all(
        "合并" in t and "店主" in t and "收银台 2" in t and "小票号 0031" in t for t in texts
    )
    await shot(cashier, "cashier-checkout-redeemed")
    # Reversing one item reverses the checkout.
    await rows.nth(0).locator("button", has_text="撤销整单").click()
    await cashier.wait_for_selector(".toast.ok:has-text('已撤销整单')")
    await cashier.wait_for_selector("#today tr[data-redemption]:nth-of-type(3):has-text('已撤销')")
    for i in range(2):
        assert "已撤销" in await rows.nth(i).inner_text()
    await till.close()
    await context.close()


async def test_the_owner_adds_a_cashier_who_redeems_with_a_note_and_is_removed(
    live: Live, browser: Any
) -> None:
    mid, api_key = await live.merchant("dining")
    batch = await live.batch()
    voucher = await live.call(
        "POST", f"/api/v1/batches/{batch['id']}/claims", 201, headers=live.headers("resident", "r1")
    )
    boss = await browser.new_context(viewport={"width": 900, "height": 1300}, locale="zh-CN")
    boss.set_default_timeout(10_000)
    page = await boss.new_page()
    asked = offline_only(page, live.base)
    await page.goto(live.base + "/cashier")
    await page.fill("#merchant-id", str(mid))
    await page.fill("#api-key", api_key)
    await page.click("#sign-in")
    await page.wait_for_selector("#cashiers-card:has-text('还没有收银员')")
    await page.fill("#cashier-name", "王丽")
    await page.click("#cashier-add")
    key = (await page.inner_text("#new-cashier-key")).strip()
    assert key.startswith("mk_")
    assert "密钥只显示这一次" in await page.inner_text("#cashier-key")
    await page.wait_for_selector("#cashiers tr[data-cashier]:has-text('王丽')")
    await shot(page, "cashier-owner-adds-cashier")

    # The cashier signs in on its own till with its key: the checkout only.
    till = await browser.new_context(viewport={"width": 800, "height": 1000}, locale="zh-CN")
    till.set_default_timeout(10_000)
    cashier = await till.new_page()
    await cashier.goto(live.base + "/cashier")
    await cashier.fill("#merchant-id", str(mid))
    await cashier.fill("#api-key", key)
    await cashier.click("#sign-in")
    await cashier.wait_for_selector("#who:has-text('济南远大购物广场 · 收银员 王丽')")
    for card in await cashier.locator(".owner-only").all():
        assert await card.is_hidden()
    await cashier.fill("#code", voucher["code"])
    await cashier.click("#preview")
    await cashier.wait_for_selector("#preview-box:has-text('可在本店使用')")
    await cashier.fill("#amount", "66")
    await cashier.fill("#metadata", "槐荫店 收银台 1")
    await cashier.click("#redeem")
    await cashier.wait_for_selector("#redeem-result:has-text('核销成功')")
    await cashier.wait_for_selector("#today tr[data-redemption]:has-text('王丽')")
    await shot(cashier, "cashier-signed-in-as-cashier")

    # The owner sees who rang it up, and removes the cashier (two taps).
    await page.reload()
    row = page.locator("#today tr[data-redemption]")
    await row.wait_for()
    assert "王丽" in await row.inner_text() and "槐荫店 收银台 1" in await row.inner_text()
    remove = page.locator("#cashiers tr[data-cashier] button", has_text="移除")
    await remove.click()
    await page.wait_for_selector("#cashiers button:has-text('确认移除')")
    await remove.click()
    await page.wait_for_selector(".toast.ok:has-text('其密钥已失效')")
    await page.wait_for_selector("#cashiers:has-text('还没有收银员')")
    # The cashier's next tap: signed out at once.
    await cashier.fill("#code", voucher["code"])
    await cashier.click("#preview")
    await cashier.wait_for_selector("#login:visible")
    await cashier.fill("#merchant-id", str(mid))
    await cashier.fill("#api-key", key)
    await cashier.click("#sign-in")
    await cashier.wait_for_selector("#login-error:has-text('商户编号或接入密钥不正确')")
    assert_local(asked, live.base)
    await till.close()
    await boss.close()


async def test_the_bureau_sees_the_apis_totals_and_downloads_csv(
    live: Live, browser: Any, tmp_path: Path
) -> None:
    await live.bureau_account("analyst", "a long password 1")
    mid, _ = await live.merchant("dining")
    batch = await live.batch(quantity=10)
    for i, amount in enumerate((6000, 8800, 15000)):
        v = await live.call(
            "POST",
            f"/api/v1/batches/{batch['id']}/claims",
            201,
            headers=live.headers("resident", f"r{i}"),
        )
        await live.call(
            "POST",
            "/api/v1/merchant/redemptions",
            201,
            json={"code": v["code"], "order_amount_fen": amount, "order_ref": str(i)},
            headers={**live.headers("merchant", mid=mid), "Idempotency-Key": f"k{i}"},
        )
    result = await live.app[keys.JOBS].run_now(BY_NAME["intraday_refresh"])
    assert result.outcome == "succeeded"
    summary = await live.call("GET", "/api/v1/stats/summary", 200, headers=live.headers("bureau"))

    context = await browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="zh-CN", accept_downloads=True
    )
    context.set_default_timeout(10_000)
    page = await context.new_page()
    asked = offline_only(page, live.base)
    await page.goto(live.base + "/bureau")
    await sign_in(page, "analyst", "a long password 1")
    overall = page.locator("#totals tr[data-category='overall']")
    await overall.wait_for()
    cells = await overall.locator("td").all_inner_texts()
    total = summary["overall"]
    assert cells[1:5] == [
        str(total["vouchers_claimed"]),
        str(total["vouchers_redeemed"]),
        "¥30.00",
        "¥298.00",
    ]
    assert total["subsidy_fen"] == 3000 and total["sales_fen"] == 29800
    assert cells[5] == f"{total['leverage']:.2f}"
    await page.wait_for_selector("#chart-daily-dining canvas")
    await page.wait_for_selector("#chart-recovery-dining canvas")
    await page.wait_for_selector("#merchants tr:nth-child(2)")
    await page.wait_for_selector("#jobs tr[data-job='daily_rollup']:has-text('每日汇总')")
    await shot(page, "bureau-dashboard")

    async with page.expect_download() as download_info:
        await page.click("#daily-csv")
    download = await download_info.value
    assert download.suggested_filename.startswith("festival-daily-")
    target = tmp_path / "daily.csv"
    await download.save_as(str(target))
    # Saved byte for byte: the BOM that makes Excel read the Chinese as UTF-8 is kept.
    lines = csv_body(target.read_text(encoding="utf-8")).splitlines()
    assert lines[0] == ",".join(columns(DailyRow()))
    assert any(line.split(",")[1] == "dining" and ",3000,29800," in line for line in lines[1:])
    async with page.expect_download() as download_info:
        await page.click("#totals-csv")
    summary_csv = tmp_path / "summary.csv"
    await (await download_info.value).save_as(str(summary_csv))
    assert (
        csv_body(summary_csv.read_text(encoding="utf-8"))
        .splitlines()[-1]
        .startswith("overall,3,3,0,0,3000,29800,")
    )
    # Beside each CSV, the same rows as an Excel workbook: yuan, real dates, Chinese as is.
    async with page.expect_download() as download_info:
        await page.click("#daily-xlsx")
    download = await download_info.value
    assert download.suggested_filename.endswith(".xlsx")
    target = tmp_path / "daily.xlsx"
    await download.save_as(str(target))
    rows = sheet_rows(workbook_sheet(target.read_bytes()))
    assert rows[0][:8] == [*columns(DailyRow())[:6], "subsidy (元)", "sales (元)"]
    (dining,) = [r for r in rows[1:] if r[1] == "dining"]
    assert isinstance(dining[0], datetime) and dining[6:8] == [30, 298]
    for button in ("#merchants-xlsx", "#jobs-xlsx", "#totals-xlsx"):
        async with page.expect_download() as download_info:
            await page.click(button)
        saved = tmp_path / "table.xlsx"
        await (await download_info.value).save_as(str(saved))
        assert len(sheet_rows(workbook_sheet(saved.read_bytes()))) > 1, button
    assert_local(asked, live.base)

    # A token that stops working sends the user back to sign in.
    await page.evaluate("sessionStorage.setItem('festival.bureau.token', 'expired.or.forged')")
    await page.reload()
    await page.wait_for_selector("#login:not([hidden])")
    await context.close()


async def lottery(live: Live, seconds: float, **overrides: Any) -> dict[str, Any]:
    """An auto lottery whose registration ends (and draw falls due) in `seconds`."""
    ends = (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()
    body = {
        "category": "auto",
        "title": "汽车消费券 满5万减2000（摇号）",
        "face_value_fen": 200000,
        "min_spend_fen": 5000000,
        "mode": "lottery",
        "claim_ends_at": ends,
        "draw_at": ends,
        **overrides,
    }
    return await live.batch(**body)


async def enter_and_draw(live: Live, batch: dict[str, Any], residents: list[str]) -> None:
    for sub in residents:
        await live.call(
            "POST",
            f"/api/v1/batches/{batch['id']}/entries",
            201,
            headers=live.headers("resident", sub),
        )


async def until(iso: str) -> None:
    import asyncio

    wait = (datetime.fromisoformat(iso) - datetime.now(UTC)).total_seconds()
    await asyncio.sleep(max(0.0, wait) + 0.2)


async def as_resident(page: Any, path: str) -> Any:
    """GET `path` with the token the page signed in with."""
    return await page.evaluate(
        "async (path) => (await fetch(path, {headers: {Authorization: "
        "'Bearer ' + sessionStorage.getItem('festival.resident.token')}})).json()",
        path,
    )


async def test_a_resident_enters_a_lottery_counts_down_and_sees_the_result(
    live: Live, browser: Any
) -> None:
    sure = await lottery(live, 8, quantity=2, title="汽车消费券（摇号·名额充足）")
    tight = await lottery(live, 8, quantity=1, title="汽车消费券（摇号·一个名额）")
    await enter_and_draw(live, tight, ["other-1", "other-2", "other-3"])
    phone = "13912345600"
    context = await browser.new_context(viewport={"width": 375, "height": 812}, locale="zh-CN")
    context.set_default_timeout(10_000)
    page = await context.new_page()
    asked = offline_only(page, live.base)
    await page.goto(live.base + "/")
    await page.fill("#phone", phone)
    await page.click("#send-code")
    await page.wait_for_selector("#send-code:has-text('秒后重发')")
    await page.fill("#code", live.sms.codes[phone])
    await page.click("#sign-in")
    for batch in (sure, tight):
        card = page.locator(f"[data-batch='{batch['id']}']")
        await card.locator("button", has_text="报名").click()
        await page.wait_for_selector(f"[data-batch='{batch['id']}'] button:has-text('已报名')")
        assert "距开奖" in await card.inner_text() and "摇号" in await card.inner_text()
    await shot(page, "resident-lottery-entered")
    await page.click("#tab-entries")
    await page.wait_for_selector(f"#entries [data-batch='{sure['id']}']:has-text('待开奖')")
    assert "距开奖" in await page.inner_text("#entries")

    await until(sure["draw_at"])
    for batch in (sure, tight):
        await live.call(
            "POST", f"/api/v1/admin/batches/{batch['id']}/draw", 200, headers=live.headers("bureau")
        )
    await page.click("#tab-batches")
    await page.click("#tab-entries")
    won = page.locator(f"#entries [data-batch='{sure['id']}']")
    await won.locator(".pill", has_text="中签").wait_for()
    code = (await won.locator(".code").inner_text()).replace(" ", "")
    wallet = await as_resident(page, "/api/v1/me/vouchers")
    assert [v["code"] for v in wallet if v["batch_id"] == sure["id"]] == [code]
    link = won.locator("a", has_text="开奖记录")
    assert await link.get_attribute("href") == f"/draw?batch={sure['id']}"
    # The one-place lottery: the page says what the API says (中签 or 未中签).
    entries = await as_resident(page, "/api/v1/me/entries")
    (result,) = [e for e in entries if e["batch_id"] == tight["id"]]
    expected = {"won": "中签", "lost": "未中签"}[result["status"]]
    await page.wait_for_selector(
        f"#entries [data-batch='{tight['id']}'] .pill:text-is('{expected}')"
    )
    await won.locator("button", has_text="出示二维码").click()
    await page.wait_for_selector("#qr-modal:not([hidden])")
    assert (await page.inner_text("#qr-code")).replace(" ", "") == code
    await shot(page, "resident-lottery-result")
    assert_local(asked, live.base)
    await context.close()


async def test_the_bureau_sees_budgets_verifies_draws_and_recycles(
    live: Live, browser: Any
) -> None:
    await live.bureau_account("analyst", "a long password 1")
    bureau = live.headers("bureau")
    await live.call(
        "PUT",
        "/api/v1/admin/budget",
        200,
        json={"category": "auto", "budget_fen": 5_000_000},
        headers=bureau,
    )
    drawn = await lottery(live, 3, quantity=2)
    await enter_and_draw(live, drawn, [f"entrant-{i}" for i in range(5)])
    # A dining batch closing with 8 of 10 unclaimed, and a later one to recycle them into.
    closing = await live.batch(
        quantity=10, claim_ends_at=(datetime.now(UTC) + timedelta(seconds=3)).isoformat()
    )
    for sub in ("d1", "d2"):
        await live.call(
            "POST",
            f"/api/v1/batches/{closing['id']}/claims",
            201,
            headers=live.headers("resident", sub),
        )
    later = await live.batch(quantity=10, title="餐饮券（下一期）")
    await until(drawn["draw_at"])
    await live.call("POST", f"/api/v1/admin/batches/{drawn['id']}/draw", 200, headers=bureau)
    budget = await live.call("GET", "/api/v1/admin/budget", 200, headers=bureau)

    context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    context.set_default_timeout(10_000)
    page = await context.new_page()
    asked = offline_only(page, live.base)
    await page.goto(live.base + "/bureau")
    await sign_in(page, "analyst", "a long password 1")
    # Budget per category, as the API reports it.
    auto = page.locator("#budget tr[data-category='auto']")
    await auto.wait_for()
    (line,) = [b for b in budget["items"] if b["category"] == "auto"]
    assert line["committed_fen"] == 400_000 and line["available_fen"] == 4_600_000
    cells = await auto.locator("td").all_inner_texts()
    assert cells[1:5] == ["¥50,000.00", "¥4,000.00", "¥0.00", "¥46,000.00"]
    # The draw: its commitment, entries, winners, and the browser's own recomputation.
    row = page.locator(f"#draws tr[data-batch='{drawn['id']}']")
    await row.locator("text=✓ 复核通过").wait_for()
    texts = await row.locator("td").all_inner_texts()
    assert texts[2] == "已开奖" and texts[4:6] == ["5", "2"]
    assert drawn["seed_commitment"].startswith(texts[3].rstrip("…"))
    await shot(page, "bureau-budget-draws")

    # Recycling: the closed batch's 8 unclaimed go into the later one, once.
    await page.select_option("#recycle-source", str(closing["id"]))
    await page.select_option("#recycle-target", str(later["id"]))
    await page.click("#recycle")
    await page.wait_for_selector("#recycle-result:has-text('已回收 8 张')")
    after = await live.call("GET", f"/api/v1/batches/{later['id']}", 200)
    assert after["quantity"] == 18
    await page.select_option("#recycle-source", str(closing["id"]))
    await page.select_option("#recycle-target", str(later["id"]))
    await page.click("#recycle")
    await page.wait_for_selector(".toast.error:has-text('与当前状态冲突')")

    # Adjusting a budget, and a budget below what is committed refused in plain words.
    await auto.locator("input").fill("60000")
    await auto.locator("button", has_text="保存").click()
    await page.wait_for_selector("#budget tr[data-category='auto'] td:text-is('¥60,000.00')")
    await page.locator("#budget tr[data-category='auto'] input").fill("1000")
    await page.locator("#budget tr[data-category='auto'] button").click()
    await page.wait_for_selector(".toast.error:has-text('超出该品类预算')")

    # A record altered on the way fails the browser's check.
    async def tamper(route: Any) -> None:
        response = await route.fetch()
        record = await response.json()
        record["entry_ids"] = list(reversed(record["entry_ids"]))
        await route.fulfill(response=response, json=record)

    await page.route(f"**/api/v1/batches/{drawn['id']}/draw", tamper)
    await page.reload()
    await page.wait_for_selector(f"#draws tr[data-batch='{drawn['id']}'] :text('✗ 复核不通过')")
    assert_local(asked, live.base)
    await context.close()


class _DayOver(Clock):
    """The real clock a day on: to it, today's business day is over."""

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(days=1)


async def close_day(live: Live, day: date, *jobs: str) -> None:
    """Runs `jobs` for `day` as the night after it would: settlement refuses a day that is not
    over (409 day_not_over) and a risk scan of today is only the provisional intraday one, so
    they run on a clock a day ahead of the live server's (which stays on the real clock)."""
    runner = live.app[keys.JOBS]
    night = JobRunner(
        runner.db, _DayOver(), tz=runner.tz, risk=runner.risk, baseline_year=runner.baseline_year
    )
    for job in jobs:
        result = await night.run_day(BY_NAME[job], day, force=True)
        assert result.outcome == "succeeded", result


async def test_the_bureau_reviews_a_cash_out_flag_holds_pays_and_reads_the_audit_trail(
    live: Live, browser: Any, tmp_path: Path
) -> None:
    from playwright.async_api import expect

    await live.bureau_account("auditor", "a long password 2")
    bureau = live.headers("bureau")
    shops = {}
    for name, account in (("凑单小店", "6222020200112233445"), ("老实饭店", "6217000010001234567")):
        body = await live.call(
            "POST",
            "/api/v1/admin/merchants",
            201,
            json=merchant_body(
                category="shopping", name=name, account_name=name, account_no=account
            ),
            headers=bureau,
        )
        mid = body["merchant"]["id"]
        shops[name] = (mid, live.headers("merchant", f"m{mid}", mid))
    mule, honest = shops["凑单小店"][0], shops["老实饭店"][0]
    batch = await live.batch(
        category="shopping", face_value_fen=2000, min_spend_fen=10000, quantity=30
    )

    async def redeem(shop: str, sub: str, order_fen: int) -> None:
        voucher = await live.call(
            "POST",
            f"/api/v1/batches/{batch['id']}/claims",
            201,
            headers=live.headers("resident", sub),
        )
        await live.call(
            "POST",
            "/api/v1/merchant/redemptions",
            201,
            json={"code": voucher["code"], "order_amount_fen": order_fen, "order_ref": "POS"},
            headers={**shops[shop][1], "Idempotency-Key": f"k-{sub}"},
        )

    for i in range(20):  # every order just over the 满100 threshold: 20 × ¥20 = ¥400
        await redeem("凑单小店", f"mule-{i}", 10_100 + i * 10)
    for i in range(2):  # 2 × ¥20 = ¥40
        await redeem("老实饭店", f"diner-{i}", 15_000)
    day = datetime.now(live.settings.tz).date()
    await close_day(live, day, "settlement", "risk_scan")
    flags = await live.call("GET", "/api/v1/admin/risk/flags", 200, headers=bureau)
    hugging = next(f for f in flags["items"] if f["rule"] == "threshold_hugging")
    assert hugging["status"] == "open"  # the full day's scan: reviewable

    context = await browser.new_context(
        viewport={"width": 1280, "height": 1000}, locale="zh-CN", accept_downloads=True
    )
    context.set_default_timeout(10_000)
    page = await context.new_page()
    asked = offline_only(page, live.base)
    await page.goto(live.base + "/bureau/money")
    await sign_in(page, "auditor", "a long password 2")
    row = page.locator(f"#flags tr[data-flag='{hugging['id']}']")
    await row.wait_for()
    cells = await row.locator("td").all_inner_texts()
    assert cells[0] == f"#{hugging['id']}"
    assert cells[2:4] == ["凑单小店", "贴近门槛凑单"] and "20 笔贴近门槛（100%）" in cells[4]
    assert cells[5] == "100%：当日核销中贴近门槛（高出 5% 以内）的占比"
    assert cells[6] == "待复核"
    # Both shops are owed their settled day; neither is held yet.
    await page.wait_for_selector(f"#payables tr[data-merchant='{mule}']:has-text('下次付款')")
    await row.locator("button", has_text="查看").click()
    await page.locator("#chart-days canvas").wait_for()
    await page.locator("#chart-windows canvas").wait_for()
    # The evidence as its orders: one row per redemption it names, amounts in 元.
    orders = page.locator("#flag-orders tr[data-redemption]")
    await expect(orders).to_have_count(len(hugging["evidence"]["redemption_ids"]))
    assert "¥" in await orders.first.inner_text()
    await page.fill("#review-note", "金额全部贴近门槛，确认凑单套现")
    await page.click("#confirm-flag")
    await page.wait_for_selector(".toast.ok:has-text('已确认，该商户暂停付款')")
    hold = page.locator(f"#holds tr[data-hold='{hugging['id']}']")
    await hold.wait_for()
    assert "凑单小店" in await hold.inner_text()
    await page.wait_for_selector(f"#payables tr[data-merchant='{mule}']:has-text('暂扣')")
    owed = await page.locator(f"#payables tr[data-merchant='{honest}'] td").all_inner_texts()
    assert owed[:5] == ["老实饭店", "购物", "¥0.00", "¥40.00", "下次付款"]
    overall = page.locator("#ledger-totals tr[data-category='overall'] td")
    assert await overall.all_inner_texts() == [
        "合计",
        "¥440.00",
        "¥0.00",
        "¥440.00",
        "¥0.00",
        "¥0.00",
    ]
    assert "无应收" in await page.inner_text("#receivables")
    await shot(page, "money-risk-queue")

    # 生成付款文件: its answer is lost once; the retry sends the same Idempotency-Key and gets
    # the same file back. It pays only the honest shop; the held one is left out, with why.
    keys_sent: list[str | None] = []

    async def lose_first_answer(route: Any) -> None:
        if route.request.method != "POST":
            await route.continue_()
            return
        keys_sent.append(route.request.headers.get("idempotency-key"))
        if len(keys_sent) == 1:
            await route.fetch()
            await route.abort("connectionreset")
        else:
            await route.continue_()

    await page.route("**/api/v1/admin/payments/exports", lose_first_answer)
    await page.click("#export")
    await page.wait_for_selector("#export:has-text('重试生成付款文件')")
    assert "网络异常" in await page.inner_text("#export-result")
    await page.click("#export")
    await page.wait_for_selector("#export-result:has-text('1 笔，合计 ¥40.00')")
    await page.unroute("**/api/v1/admin/payments/exports")
    assert len(keys_sent) == 2 and keys_sent[0] and keys_sent[0] == keys_sent[1]
    (made,) = (await live.call("GET", "/api/v1/admin/payments/exports", 200, headers=bureau))[
        "items"
    ]
    assert (made["rows"], made["total_fen"]) == (1, 4000)
    assert f"付款文件 #{made['id']} 已生成" in await page.inner_text("#export-result")
    left = await page.locator(f"#left-out tr[data-merchant='{mule}'] td").all_inner_texts()
    assert left == ["凑单小店", "暂扣", "¥400.00"]
    listed = page.locator(f"#exports tr[data-export='{made['id']}']")
    await listed.wait_for()
    assert await listed.get_attribute("data-sha256") == made["sha256"]
    texts = await listed.locator("td").all_inner_texts()
    assert texts[3:5] == ["1", "¥40.00"] and made["sha256"].startswith(texts[5].rstrip("…"))
    assert texts[6:10] == ["0", "0", "¥40.00", "1 家"]

    # Downloaded again from the list: the kept bytes, whose SHA-256 is the one listed.
    async with page.expect_download() as download_info:
        await listed.locator("button", has_text="下载").click()
    target = tmp_path / "bank.csv"
    await (await download_info.value).save_as(str(target))
    assert hashlib.sha256(target.read_bytes()).hexdigest() == made["sha256"]
    await page.wait_for_selector(".toast.ok:has-text('SHA-256 校验一致')")
    reference = f"HYF-E{made['id']:06d}-{honest:04d}"
    assert target.read_text(encoding="utf-8").splitlines() == [
        "reference,merchant_id,account_name,account_no,amount_yuan",
        f"{reference},{honest},老实饭店,6217000010001234567,40.00",
    ]

    # The bank's return: a reference it never sent is refused naming the line; the real one is
    # paid; the same file again is refused as answered before, nothing applied twice.
    returns = tmp_path / "returns.csv"
    returns.write_text("reference,status\nHYF-E999999-0001,paid\n")
    await page.set_input_files("#returns-file", str(returns))
    await page.wait_for_selector(
        "#returns-result .problems:has-text('第 2 行：付款编号 HYF-E999999-0001 不在任何付款文件中')"
    )
    await page.wait_for_selector(".toast.error:has-text('第 2 行')")
    returns.write_text(f"reference,status,amount_yuan\n{reference},paid,40.00\n")
    await page.set_input_files("#returns-file", str(returns))
    await page.wait_for_selector(
        "#returns-result:has-text('已导入回盘 1 笔：成功 1 笔 ¥40.00；失败 0 笔 ¥0.00')"
    )
    await page.wait_for_selector(
        f"#exports tr[data-export='{made['id']}'] td:nth-child(7):text-is('1')"
    )
    await page.set_input_files("#returns-file", str(returns))
    await page.wait_for_selector("#already-returned:has-text('回盘已导入过')")
    assert f"第 2 行：付款编号 {reference} 已回盘过（成功）" in await page.inner_text(
        "#returns-result"
    )
    # verify, run again after the return: balanced, the ¥40 now paid.
    await page.wait_for_selector(
        "#verify-status:has-text('平衡 ✓') ~ div #verify-totals tr:nth-child(2)"
        " td:nth-child(6):text-is('¥40.00')"
    )
    paid = page.locator("#verify-totals tr:nth-child(2) td")
    assert (await paid.all_inner_texts())[:6] == [
        "¥440.00",
        "¥440.00",
        "¥0.00",
        "¥400.00",
        "¥0.00",
        "¥40.00",
    ]
    await shot(page, "money-ledger")

    # Released with the clawback: the held ¥400 goes back to the subsidy; still balanced.
    await hold.locator("input[type='checkbox']").check()
    await hold.locator("input[aria-label='解除意见']").fill("追回套现补贴")
    await hold.locator("button", has_text="解除暂扣").click()
    await page.wait_for_selector(".toast.ok:has-text('已解除，追回补贴 ¥400.00（20 笔）')")
    await page.wait_for_selector(f"#payables tr[data-merchant='{mule}']", state="detached")
    await page.click("#verify")
    await page.wait_for_selector(
        "#verify-status:has-text('平衡 ✓') ~ div #verify-totals tr:nth-child(2)"
        " td:first-child:text-is('¥40.00')"
    )

    # The audit trail: the review, by whom, from open to confirmed.
    await page.select_option("#audit-action", "risk.review")
    await page.click("#audit-search")
    entry = page.locator("#audit tr[data-entry]")
    await expect(entry).to_have_count(1)  # the filtered list has replaced the full one
    texts = await entry.locator("td").all_inner_texts()
    assert texts[1:4] == ["bureau:auditor", "复核预警", f"risk_flags/{hugging['id']}"]
    assert "状态：待复核 → 已确认" in texts[4]
    await shot(page, "money-payments-audit")
    # The trail as filtered, as a workbook: the review's entry, its time a date-time cell.
    async with page.expect_download() as download_info:
        await page.click("#audit-xlsx")
    trail = tmp_path / "audit.xlsx"
    await (await download_info.value).save_as(str(trail))
    rows = sheet_rows(workbook_sheet(trail.read_bytes()))
    assert rows[0][:5] == ["id", "at", "actor", "action", "object"]
    assert [(r[2], r[3]) for r in rows[1:]] == [("bureau:auditor", "risk.review")]
    assert isinstance(rows[1][1], datetime)
    assert_local(asked, live.base)
    await context.close()


async def test_a_cashier_reads_the_statement_and_downloads_it(
    live: Live, browser: Any, tmp_path: Path
) -> None:
    bureau = live.headers("bureau")
    body = await live.call(
        "POST",
        "/api/v1/admin/merchants",
        201,
        json=merchant_body(
            category="dining",
            name="槐荫小馆",
            account_name="槐荫小馆",
            account_no="6217000010009876543",
        ),
        headers=bureau,
    )
    mid, api_key = body["merchant"]["id"], body["api_key"]
    merchant = live.headers("merchant", f"m{mid}", mid)
    batch = await live.batch(quantity=10)
    redeemed = []
    for i in range(3):  # 3 × ¥10, one of them reversed the same day
        voucher = await live.call(
            "POST",
            f"/api/v1/batches/{batch['id']}/claims",
            201,
            headers=live.headers("resident", f"s{i}"),
        )
        redeemed.append(
            await live.call(
                "POST",
                "/api/v1/merchant/redemptions",
                201,
                json={"code": voucher["code"], "order_amount_fen": 8800, "order_ref": str(i)},
                headers={**merchant, "Idempotency-Key": f"s{i}"},
            )
        )
    await live.call(
        "POST",
        f"/api/v1/merchant/redemptions/{redeemed[0]['id']}/reversal",
        200,
        json={"reason": "顾客退单"},
        headers=merchant,
    )
    day = datetime.now(live.settings.tz).date()
    await close_day(live, day, "settlement")
    made = await live.call(
        "POST",
        "/api/v1/admin/payments/exports",
        201,
        json={},
        headers={**bureau, "Idempotency-Key": "statement-test"},
    )
    reference = f"HYF-E{made['id']:06d}-{mid:04d}"

    context = await browser.new_context(
        viewport={"width": 1000, "height": 1200}, locale="zh-CN", accept_downloads=True
    )
    context.set_default_timeout(10_000)
    page = await context.new_page()
    asked = offline_only(page, live.base)
    await page.goto(live.base + "/cashier")
    await page.fill("#merchant-id", str(mid))
    await page.fill("#api-key", api_key)
    await page.click("#sign-in")
    line = page.locator(f"#statement tr[data-date='{day}']")
    await line.wait_for()
    assert await page.input_value("#statement-to") == day.isoformat()
    assert await page.input_value("#statement-from") == (day - timedelta(days=6)).isoformat()
    assert await line.locator("td").all_inner_texts() == [
        day.isoformat(),
        "3",
        "¥30.00",
        "¥10.00",
        "¥0.00",
        "¥20.00",
        "¥20.00",
        reference,
        "¥0.00",
        "¥0.00",
        "¥0.00",
    ]
    await shot(page, "cashier-statement")

    async with page.expect_download() as download_info:
        await page.click("#statement-csv")
    target = tmp_path / "statement.csv"
    await (await download_info.value).save_as(str(target))
    rows = csv_dicts(target.read_text(encoding="utf-8"))
    assert tuple(rows[0]) == columns(StatementDay())
    assert [(r["date"], r["earned_fen"], r["settled_fen"], r["references"]) for r in rows] == [
        (day.isoformat(), "3000", "2000", reference)
    ]
    async with page.expect_download() as download_info:
        await page.click("#statement-xlsx")
    target = tmp_path / "statement.xlsx"
    await (await download_info.value).save_as(str(target))
    sheet = sheet_rows(workbook_sheet(target.read_bytes()))
    assert sheet[0][:3] == ["date", "redemptions", "earned (元)"]
    assert [(r[2], r[7]) for r in sheet[1:]] == [(30, reference)]  # yuan, and the reference
    # A range with nothing in it says so.
    await page.fill("#statement-from", (day - timedelta(days=30)).isoformat())
    await page.fill("#statement-to", (day - timedelta(days=20)).isoformat())
    await page.click("#statement-search")
    await page.wait_for_selector("#statement:has-text('所选期间没有补贴变动')")
    assert_local(asked, live.base)
    await context.close()


async def test_the_daily_bulletin_prints_on_a4_with_its_fonts_and_charts(
    settings: Settings, browser: Any, tmp_path: Path
) -> None:
    import dataclasses
    import io

    import aiohttp
    from pypdf import PdfReader

    # The real clock says 2026, so 2025 is the baseline year of this festival.
    settings = dataclasses.replace(settings, baseline_year=2025)
    app = create_app(settings=settings, clock=Clock(), sms=CapturingSmsSender())
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as session:
            live = Live(str(server.make_url("")).rstrip("/"), app, settings, None, session)  # type: ignore[arg-type]
            pdf = await _bulletin_pdf(live, browser, tmp_path)
    finally:
        await server.close()
    reader = PdfReader(io.BytesIO(pdf))
    assert 1 <= len(reader.pages) <= 2, len(reader.pages)
    assert abs(float(reader.pages[0].mediabox.width) - 595.3) < 2  # A4 portrait, in points
    fonts = set()
    images = 0
    for page in reader.pages:
        resources = page["/Resources"]
        for font in resources.get("/Font", {}).values():
            font = font.get_object()
            fonts.add(str(font.get("/BaseFont", font.get("/Subtype"))))
        images += len(page.images)
    assert any("WenQuanYi" in f for f in fonts), fonts  # the Chinese is real text, in a CJK font
    assert images >= 4, images  # the four categories' charts, drawn before printing
    text = "".join(page.extract_text() for page in reader.pages)
    assert "春暖槐荫消费节简报" in text and "对照商户" in text and "餐饮" in text


async def _bulletin_pdf(live: Live, browser: Any, tmp_path: Path) -> bytes:
    await live.bureau_account("reader", "a long password 3")
    bureau = live.headers("bureau")
    day = datetime.now(live.settings.tz).date()
    codes = []
    for _ in range(3):
        body = await live.call(
            "POST",
            "/api/v1/admin/merchants",
            201,
            json=merchant_body(category="dining"),
            headers=bureau,
        )
        codes.append((body["merchant"]["credit_code"], True))
    codes += [(merchant_body()["credit_code"], False) for _ in range(4)]
    batch = await live.batch(quantity=10)
    mid = (await live.call("GET", "/api/v1/admin/merchants", 200, headers=bureau))[0]["id"]
    for i in range(3):
        voucher = await live.call(
            "POST",
            f"/api/v1/batches/{batch['id']}/claims",
            201,
            headers=live.headers("resident", f"b{i}"),
        )
        await live.call(
            "POST",
            "/api/v1/merchant/redemptions",
            201,
            json={"code": voucher["code"], "order_amount_fen": 8800, "order_ref": "POS"},
            headers={**live.headers("merchant", f"m{mid}", mid), "Idempotency-Key": f"bk{i}"},
        )
    lines = ["date,credit_code,category,sales_fen"]
    for n in range(5):
        d = day - timedelta(days=4 - n)
        base = date.fromisocalendar(2025, *d.isocalendar()[1:])
        for k, (code, festival) in enumerate(codes):
            lines.append(f"{base},{code},dining,{100_000 + 7_000 * k}")
            lines.append(
                f"{d},{code},dining,{(95_000 if festival else 85_000) + 7_000 * k + 500 * n}"
            )
    async with live.session.put(
        live.base + "/api/v1/admin/turnover",
        data="\n".join(lines) + "\n",
        headers={**bureau, "Content-Type": "text/csv"},
    ) as resp:
        assert resp.status == 200, await resp.text()
    assert (await live.app[keys.JOBS].run_now(BY_NAME["intraday_refresh"])).outcome == "succeeded"

    context = await browser.new_context(viewport={"width": 1100, "height": 1400}, locale="zh-CN")
    context.set_default_timeout(10_000)
    page = await context.new_page()
    asked = offline_only(page, live.base)
    await page.goto(f"{live.base}/bureau/bulletin?date={day}")
    await sign_in(page, "reader", "a long password 3")
    dining = page.locator("#recovery tr[data-category='dining']")
    await dining.wait_for()
    cells = await dining.locator("td").all_inner_texts()
    assert cells[0] == "餐饮" and cells[3].startswith("+")  # festival merchants recovered more
    for category in ("shopping", "dining", "culture_tourism", "auto"):
        await page.locator(f"#mini-{category} canvas").wait_for()
    assert "当日无核销" not in await page.inner_text("#top")
    await shot(page, "bulletin")
    pdf: bytes = await page.pdf(format="A4", print_background=True)
    (tmp_path / "bulletin.pdf").write_bytes(pdf)
    assert_local(asked, live.base)
    await context.close()
    return pdf


async def test_in_a_drill_every_page_shows_the_banner_and_follows_a_move(
    settings: Settings, browser: Any
) -> None:
    """FESTIVAL_DRILL: each page says 演练 with the drill's time, and follows a move of the
    clock without a reload; without a drill, no banner."""
    import dataclasses

    import aiohttp

    pages = ["/", "/cashier", "/bureau", "/bureau/money", "/bureau/bulletin"]
    drill = create_app(settings=dataclasses.replace(settings, drill=True), sms=CapturingSmsSender())
    plain = create_app(settings=settings, clock=Clock(), sms=CapturingSmsSender())
    servers = [TestServer(app, host="127.0.0.1") for app in (drill, plain)]
    for server in servers:
        await server.start_server()
    try:
        drill_base, plain_base = (str(s.make_url("")).rstrip("/") for s in servers)
        to = datetime.combine(
            datetime.now(settings.tz).date() + timedelta(days=9), time(10, 0), settings.tz
        )
        token, _ = issue_token(settings, role="bureau", sub="drill-lead")

        async def move(moment: datetime) -> None:
            async with (
                aiohttp.ClientSession() as session,
                session.post(
                    drill_base + "/api/v1/admin/drill/clock",
                    json={"to": moment.isoformat()},
                    headers={"Authorization": f"Bearer {token}"},
                ) as resp,
            ):
                assert resp.status == 200, await resp.text()

        await move(to)
        shown = f"演练模式 · 演练时间 {to:%Y-%m-%d 10:}"
        context = await browser.new_context(locale="zh-CN")
        context.set_default_timeout(10_000)
        page = await context.new_page()
        asked = offline_only(page, drill_base)
        for path in pages:
            await page.goto(drill_base + path)
            banner = page.locator("#drill-banner")
            await banner.wait_for()
            assert shown in await banner.inner_text(), path
            # Above the page's own header, in plain sight.
            assert await page.evaluate("document.body.firstElementChild.id") == "drill-banner"
        await shot(page, "drill-banner")
        assert_local(asked, drill_base)
        # A move while a page is open shows within the page's next look at the clock.
        later = to + timedelta(days=2)
        await move(later)
        await page.locator("#drill-banner", has_text=f"{later:%Y-%m-%d 10:}").wait_for()
        for path in pages:
            await page.goto(plain_base + path)
            await page.wait_for_selector("header.bar")
            await page.wait_for_load_state("networkidle")
            assert await page.locator("#drill-banner").count() == 0, path
        await context.close()
    finally:
        for server in servers:
            await server.close()
