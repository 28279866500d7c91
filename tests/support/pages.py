"""The browser tests' Chromium: whether it can run here, signing in, and screenshots."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"


def _why_not() -> str | None:
    if not os.path.exists(CHROMIUM):
        return "Debian's chromium is not installed (make test installs it with apt-get)"
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed"
    fonts = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True, check=False)
    if not fonts.stdout.strip():
        return "no CJK font (fonts-wqy-microhei) is installed: Chinese would render as boxes"
    return None


# A browser test module's `pytestmark`: skipped, with the reason, where Chromium cannot run.
NEEDS_BROWSER = pytest.mark.skipif(_why_not() is not None, reason=_why_not() or "")


async def sign_in(page: Any, username: str, password: str) -> None:
    await page.fill("#username", username)
    await page.fill("#password", password)
    await page.click("#sign-in")


async def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


# Every control a finger may tap, as the browser lays it out (a checkbox by its label).
TARGETS_JS = """() => {
  const shown = (el) => {
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && !el.closest('[hidden]')
      && getComputedStyle(el).visibility !== 'hidden';
  };
  const controls = 'button, a[href], input, select, textarea, [role="button"], [role="tab"],'
    + ' [tabindex]:not([tabindex="-1"])';
  return [...document.querySelectorAll(controls)].filter(shown).map((el) => {
    const box = el.matches('input[type=checkbox], input[type=radio]') && el.closest('label')
      ? el.closest('label') : el;
    const r = box.getBoundingClientRect();
    return { what: `${el.tagName.toLowerCase()}#${el.id} ${el.textContent.trim().slice(0, 12)}`,
             width: r.width, height: r.height };
  });
}"""
