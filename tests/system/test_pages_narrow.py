"""Every page at 375 px (a phone), signed in where it needs it, on the demo festival with a
voucher redeemed today: the page never scrolls sideways (wide tables scroll inside their own
box), and on the resident's and the cashier's pages, used by thumb, every control is a tap
target of at least 44 × 44 px (WCAG 2.5.5; a checkbox counts with its label)."""

from __future__ import annotations

import dataclasses
import json
import uuid
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
from tests.support.pages import NEEDS_BROWSER, shot

pytestmark = NEEDS_BROWSER

WIDTH = 375
# Each page: its path, whose token it needs, what shows it has drawn its data, and whether
# it is a thumb's page (tap targets checked).
PAGES = {
    "resident": ("/", "resident", "#batches > *", True),
    "cashier": ("/cashier", "cashier", "#today tr >> nth=1", True),
    "join": ("/join", None, "#category option", False),
    "bureau": ("/bureau", "bureau", "#totals tr >> nth=1", False),
    "money": ("/bureau/money", "bureau", "#ledger-totals tr >> nth=1", False),
    "bulletin": ("/bureau/bulletin", "bureau", "#recovery tr[data-category='dining']", False),
}

# What is wider than the page, and which controls are smaller than a thumb.
MEASURE = """() => {
  const width = document.documentElement.clientWidth;
  const name = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "")
    + (el.className && typeof el.className === "string" ? "." + el.className.split(" ").join(".") : "")
    + " " + JSON.stringify((el.innerText || el.value || el.placeholder || "").trim().slice(0, 20));
  const visible = (el) => {
    const r = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && style.visibility !== "hidden" && !el.closest("[hidden]");
  };
  const wide = [];
  for (const el of document.querySelectorAll("body *")) {
    if (!visible(el) || el.closest(".scroll")) continue;
    const r = el.getBoundingClientRect();
    if (r.right > width + 0.5 || r.left < -0.5) wide.push(`${name(el)} ${Math.round(r.left)}..${Math.round(r.right)}`);
  }
  const small = [];
  const controls = "button, input:not([type=hidden]), select, textarea, a[href], [role=button], summary";
  for (const el of document.querySelectorAll(controls)) {
    if (!visible(el)) continue;
    const box = (el.type === "checkbox" || el.type === "radio") && el.closest("label") ? el.closest("label") : el;
    const r = box.getBoundingClientRect();
    if (r.width < 44 - 0.5 || r.height < 44 - 0.5) small.push(`${name(el)} ${Math.round(r.width)}x${Math.round(r.height)}`);
  }
  return {
    scrollWidth: document.documentElement.scrollWidth,
    width,
    wide: wide.slice(0, 15),
    small,
  };
}"""


@pytest.fixture
async def served(
    demo_db: tuple[str, dict[str, Any]], settings: Settings
) -> AsyncIterator[tuple[str, dict[str, Any], Settings]]:
    url, credentials = demo_db
    live = dataclasses.replace(settings, database_url=url)
    app = create_app(settings=live, clock=Clock(), sms=CapturingSmsSender())
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/"), credentials, live
    finally:
        await server.close()


async def _redeem_today(base: str, credentials: dict[str, Any], settings: Settings) -> None:
    """A voucher of a batch open now, redeemed at the demo's dining shop: the cashier's
    today list then has a row with its 撤销 button."""
    mid = credentials["merchant"]["merchant_id"]
    shop, _ = issue_token(settings, role="merchant", sub=f"m{mid}", merchant_id=mid)
    resident, _ = issue_token(settings, role="resident", sub=f"narrow-{uuid.uuid4().hex[:8]}")
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{base}/api/v1/batches") as resp:
            got = await resp.json()
            batches = got["items"] if isinstance(got, dict) else got
        dining = [b for b in batches if b["category"] == "dining" and b["status"] == "open"]
        assert dining, batches
        async with session.post(
            f"{base}/api/v1/batches/{dining[0]['id']}/claims",
            headers={"Authorization": f"Bearer {resident}"},
        ) as resp:
            voucher = await resp.json()
            assert resp.status == 201, voucher
        body = {
            "code": voucher["code"],
            "order_amount_fen": max(voucher["min_spend_fen"], 1) + 1000,
            "order_ref": "NARROW-1",
        }
        async with session.post(
            f"{base}/api/v1/merchant/redemptions",
            json=body,
            headers={"Authorization": f"Bearer {shop}", "Idempotency-Key": uuid.uuid4().hex},
        ) as resp:
            assert resp.status == 201, await resp.text()


def _token(role: str, credentials: dict[str, Any], settings: Settings) -> tuple[str, str]:
    """The sessionStorage key and token of a page signed in as `role` (the cashier page
    signed in by the shop's owner, who also sees the cashiers card)."""
    if role == "cashier":
        mid = credentials["merchant"]["merchant_id"]
        token, _ = issue_token(settings, role="merchant", sub=f"m{mid}", merchant_id=mid)
    else:
        token, _ = issue_token(settings, role=role, sub=f"narrow-{role}")
    return f"festival.{role}.token", token


@pytest.mark.parametrize("page_name", list(PAGES))
async def test_every_page_fits_a_phone_and_its_controls_fit_a_thumb(
    served: tuple[str, dict[str, Any], Settings], browser: Any, page_name: str
) -> None:
    base, credentials, settings = served
    path, role, drawn, thumb = PAGES[page_name]
    if page_name == "cashier":
        await _redeem_today(base, credentials, settings)
    context = await browser.new_context(
        viewport={"width": WIDTH, "height": 812},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
    )
    context.set_default_timeout(15_000)
    if role is not None:
        key, token = _token(role, credentials, settings)
        await context.add_init_script(f"sessionStorage.setItem({key!r}, {token!r});")
    page = await context.new_page()
    await page.goto(base + path)
    await page.locator(drawn).first.wait_for(state="attached")
    await page.wait_for_load_state("networkidle")
    await shot(page, f"narrow-{page_name}")
    found = await page.evaluate(MEASURE)
    print(page_name, json.dumps(found, ensure_ascii=False, indent=1))
    assert found["scrollWidth"] <= found["width"], found
    assert found["wide"] == [], found
    if thumb:
        assert found["small"] == [], found
    await context.close()
