"""Fixtures of the jobs' tests: the app in a drill (演练)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from service import keys
from service.app import create_app
from service.clock import DrillClock
from service.settings import Settings
from service.sms import CapturingSmsSender
from tests.conftest import Api


@pytest.fixture
async def drill(settings: Settings, sms: CapturingSmsSender, aiohttp_client: Any) -> Api:
    """The app in a drill, on a DrillClock that follows the test database."""
    app = create_app(settings=replace(settings, drill=True), sms=sms)
    client = await aiohttp_client(app)
    clock = app[keys.CLOCK]
    assert isinstance(clock, DrillClock)
    return Api(client, app[keys.SETTINGS], clock, sms)  # type: ignore[arg-type]
