"""Tests run against a real PostgreSQL: the embedded one by default, or TEST_DATABASE_URL.

A template database is migrated once per session; every test gets its own clone of it
(CREATE DATABASE … TEMPLATE), so tests are isolated and fast. The app is served over real
HTTP by aiohttp's test server.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from aiohttp.test_utils import TestClient
from marshmallow import ValidationError

from jobs.registry import BY_NAME
from jobs.runner import JobRunner, RunResult
from service import embedded_postgres, keys
from service.app import all_endpoints, create_app
from service.auth import issue_token
from service.clock import FixedClock
from service.http import Endpoint
from service.migrations import migrate_url
from service.schemas.common import ErrorBody
from service.settings import Settings
from service.sms import CapturingSmsSender

ROOT = Path(__file__).resolve().parent.parent
TEST_SECRET = "test-secret-" + "x" * 60


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


@pytest.fixture(scope="session")
def server_url() -> str:
    """A URL of the PostgreSQL server the suite uses, on a maintenance database."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    return embedded_postgres.start(ROOT / ".test-pg", database="postgres")


@pytest.fixture(scope="session")
def template_db(server_url: str) -> Iterator[str]:
    name = f"festival_tpl_{os.getpid()}"

    async def create() -> None:
        conn = await asyncpg.connect(server_url)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        await migrate_url(with_database(server_url, name))

    asyncio.run(create())
    yield name
    asyncio.run(drop_database(server_url, name))


async def create_database(server_url: str, prefix: str, template: str | None = None) -> str:
    """A new database (a clone of `template` when given); returns its name."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    clause = f' TEMPLATE "{template}"' if template else ""
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"{clause}')
    finally:
        await conn.close()
    return name


async def drop_database(server_url: str, name: str) -> None:
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture
async def db_url(server_url: str, template_db: str) -> AsyncIterator[str]:
    name = await create_database(server_url, "festival_t", template_db)
    yield with_database(server_url, name)
    await drop_database(server_url, name)


@pytest.fixture
async def empty_db_url(server_url: str) -> AsyncIterator[str]:
    """A database with no schema at all (for migration tests)."""
    name = await create_database(server_url, "festival_e")
    yield with_database(server_url, name)
    await drop_database(server_url, name)


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=db_url,
        data_dir=tmp_path,
        jwt_secret=TEST_SECRET,
        tz=ZoneInfo("Asia/Shanghai"),
        pool_min=1,
        pool_max=10,
    )


@pytest.fixture
def clock() -> FixedClock:
    # Mid-festival: 10:00 on 6 May 2020 in Jinan.
    return FixedClock(datetime(2020, 5, 6, 2, 0, tzinfo=UTC))


@pytest.fixture
def sms() -> CapturingSmsSender:
    return CapturingSmsSender()


CLAIMS = "/api/v1/batches/{}/claims"
REDEMPTIONS = "/api/v1/merchant/redemptions"
AUDIT = "/api/v1/admin/audit"


@dataclass
class Merchant:
    """A merchant the bureau created (`created` is its answer), and its token headers."""

    id: int
    name: str
    headers: dict[str, str]
    created: dict[str, Any]


@dataclass
class Api:
    """A real HTTP client of the app, with tokens for each role at hand."""

    client: TestClient
    settings: Settings
    clock: FixedClock
    sms: CapturingSmsSender

    def token(self, role: str, sub: str | None = None, mid: int | None = None) -> str:
        token, _ = issue_token(self.settings, role=role, sub=sub or f"{role}-test", merchant_id=mid)
        return token

    def auth(self, role: str, sub: str | None = None, mid: int | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(role, sub, mid)}"}

    @property
    def bureau(self) -> dict[str, str]:
        return self.auth("bureau")

    async def call(
        self, method: str, path: str, *, expect: int | None = None, **kw: Any
    ) -> tuple[int, Any]:
        resp = await self.client.request(method, path, **kw)
        text = await resp.text()
        body: Any = text
        if resp.content_type == "application/json":
            body = await resp.json()
            assert_declared_shape(method, path, resp.status, body)
        if expect is not None:
            assert resp.status == expect, f"{method} {path}: {resp.status} {text}"
        return resp.status, body

    async def create_merchant(self, **overrides: Any) -> dict[str, Any]:
        from tests.support.factories import merchant_body

        _, body = await self.call(
            "POST",
            "/api/v1/admin/merchants",
            json=merchant_body(**overrides),
            headers=self.bureau,
            expect=201,
        )
        return body

    async def create_batch(self, **overrides: Any) -> dict[str, Any]:
        from tests.support.factories import batch_body

        _, body = await self.call(
            "POST",
            "/api/v1/admin/batches",
            json=batch_body(self.clock, **overrides),
            headers=self.bureau,
            expect=201,
        )
        return body

    async def merchant(self, **overrides: Any) -> Merchant:
        """A new merchant (`overrides` of its body), signed in as its cashier."""
        created = await self.create_merchant(**overrides)
        mid = created["merchant"]["id"]
        return Merchant(
            mid, created["merchant"]["name"], self.auth("merchant", f"m{mid}", mid), created
        )

    async def claimed(self, batch_id: int, sub: str | None = None) -> str:
        """The code of a voucher of `batch_id` claimed by resident `sub` (a new one if None)."""
        resident = sub or f"r-{uuid.uuid4().hex[:12]}"
        _, voucher = await self.call(
            "POST", CLAIMS.format(batch_id), headers=self.auth("resident", resident), expect=201
        )
        return str(voucher["code"])

    async def redeem(
        self, at: Merchant, code: str, order_fen: int, ref: str = "POS-1"
    ) -> dict[str, Any]:
        """`code` redeemed at the merchant's checkout (under a fresh Idempotency-Key)."""
        body = {"code": code, "order_amount_fen": order_fen, "order_ref": ref}
        headers = {**at.headers, "Idempotency-Key": uuid.uuid4().hex}
        _, redemption = await self.call("POST", REDEMPTIONS, json=body, headers=headers, expect=201)
        return dict(redemption)

    async def redeemed(
        self, at: Merchant, batch_id: int, order_fen: int, sub: str | None = None
    ) -> dict[str, Any]:
        """A resident claims a voucher of `batch_id` and redeems it at `at`: the redemption."""
        return await self.redeem(at, await self.claimed(batch_id, sub), order_fen)

    async def run_job(self, job: str, day: date, at: datetime | None = None) -> RunResult:
        """`job` run for `day` in-process, which must succeed: by the app's own runner (on the
        app's clock), or at `at` by a runner of the test's database whose clock reads `at`
        (the app's clock stays where the test put it)."""
        app = self.client.app
        if at is None:
            runner = app[keys.JOBS]
        else:
            runner = JobRunner(
                app[keys.DB], FixedClock(at), tz=self.settings.tz, risk=self.settings.risk
            )
        result = await runner.run_day(BY_NAME[job], day, force=True)
        assert result.outcome == "succeeded", result
        return result

    async def put_csv(
        self, path: str, text: str | bytes, expect: int | None = None
    ) -> tuple[int, Any]:
        """A CSV body PUT to `path` by the bureau."""
        headers = {**self.bureau, "Content-Type": "text/csv"}
        data = text.encode() if isinstance(text, str) else text
        return await self.call("PUT", path, data=data, headers=headers, expect=expect)

    async def audit(self, **query: Any) -> list[dict[str, Any]]:
        """The audit trail's items, filtered by `query`."""
        _, body = await self.call("GET", AUDIT, params=query, headers=self.bureau, expect=200)
        return list(body["items"])

    async def cli(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        """`festival *args` run in a child process on the test's database."""
        from tests.support.processes import festival_env, run_festival

        env = festival_env(self.settings.database_url, self.settings.data_dir)
        return await asyncio.to_thread(run_festival, list(args), env, stdin)


@pytest.fixture
async def api(
    settings: Settings, clock: FixedClock, sms: CapturingSmsSender, aiohttp_client: Any
) -> Api:
    # aiohttp_client last: it is torn down first, before the database is dropped.
    app = create_app(settings=settings, clock=clock, sms=sms)
    client = await aiohttp_client(app)
    return Api(client, settings, clock, sms)


def _route_patterns() -> list[tuple[str, re.Pattern[str], Endpoint]]:
    return [
        (ep.method, re.compile(re.sub(r"\\{\w+\\}", "[^/]+", re.escape(ep.path)) + "$"), ep)
        for ep in all_endpoints()
    ]


ROUTES = _route_patterns()


def assert_declared_shape(method: str, path: str, status: int, body: Any) -> None:
    """Every JSON body the tests see matches what the OpenAPI document declares for it: the
    endpoint's response schema on success (no undeclared field, none missing), the error
    body otherwise. Each shape is declared once, and this keeps the code to it."""
    bare = path.split("?", 1)[0]
    endpoint = next((ep for m, p, ep in ROUTES if m == method and p.match(bare)), None)
    if endpoint is None:
        return
    if status >= 400 and status not in endpoint.also:
        schema: Any = ErrorBody()
    else:
        declared = (endpoint.status, *endpoint.also)
        assert status in declared, f"{method} {path}: {status} is not declared ({declared})"
        if endpoint.response is None:
            return
        schema = endpoint.response
    try:
        schema.load(body)
    except ValidationError as err:
        raise AssertionError(f"{method} {path} {status}: not as declared: {err.messages}") from None


def assert_error(status: int, body: Any, expected_status: int, code: str) -> None:
    assert status == expected_status, body
    assert isinstance(body, dict) and set(body) == {"error"}, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"], body
    assert isinstance(body["error"]["details"], dict), body


def assert_invalid(status: int, body: Any, field: str, case: Any = None) -> None:
    """A 400 invalid_request whose details name `field`."""
    assert_error(status, body, 400, "invalid_request")
    assert field in body["error"]["details"], (case, body)


async def assert_queries_invalid(
    api: Api, path: str, queries: str, headers: dict[str, str] | None = None
) -> None:
    """Each of the space-separated query strings (`?status=OPEN ?page=1`) of `path` is a 400
    whose details name its parameter."""
    for query in queries.split():
        status, body = await api.call("GET", path + query, headers=headers)
        assert_invalid(status, body, query[1:].split("=")[0], query)
