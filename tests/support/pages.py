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
