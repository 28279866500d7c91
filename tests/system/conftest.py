"""Fixtures of the system tests: a headless Chromium for the pages, and a small demo festival."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from service.db import Database
from service.demo.loader import load_demo
from tests.conftest import create_database, drop_database, with_database
from tests.support.pages import CHROMIUM
from tests.support.scenario import TZ

DEMO_SCALE = 0.03


@pytest.fixture(scope="module")
def demo_db(
    server_url: str, template_db: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, dict[str, Any]]]:
    """One small demo (seed 7), loaded once for a module's checks, which only read it: its
    database URL and the credentials `make run` would print."""

    async def load() -> tuple[str, str, dict[str, Any]]:
        name = await create_database(server_url, "festival_d", template_db)
        url = with_database(server_url, name)
        db = await Database.connect(url, min_size=2, max_size=10)
        try:
            credentials = await load_demo(
                db, TZ, tmp_path_factory.mktemp("demo"), seed=7, scale=DEMO_SCALE
            )
        finally:
            await db.close()
        return name, url, credentials

    name, url, credentials = asyncio.run(load())
    yield url, credentials
    asyncio.run(drop_database(server_url, name))


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        chromium = await p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-quic",
            ],
        )
        yield chromium
        await chromium.close()
