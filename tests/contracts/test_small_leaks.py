"""The small leaks (the hardening review, issue 11, and the outside tester's findings): log
forging, framing (CSP, nosniff), version banners, caching of personal answers, and the
server's own refusals as the JSON error without echoing the request."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from service.app import create_app
from service.middlewares import AccessLogger
from tests.conftest import Api
from tests.support.downloads import XLSX
from tests.support.tokens import signed

ROOT = Path(__file__).resolve().parents[2]
REDEMPTIONS = "/api/v1/merchant/redemptions"


async def test_a_newline_in_the_path_cannot_forge_a_log_line(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    from aiohttp.test_utils import TestClient, TestServer

    server = TestServer(create_app(settings=api.settings, clock=api.clock, sms=api.sms))
    # As `festival serve` runs it: the service's own access logger.
    await server.start_server(access_log_class=AccessLogger, access_log=logging.getLogger("t.acc"))
    client = TestClient(server)
    caplog.set_level(logging.INFO, logger="t.acc")
    resp = await client.get("/api/v1/x%0A2020-05-06%20INFO%20GET%20/admin%20200")
    await resp.read()
    lines: list[str] = []
    for _ in range(100):  # the access log is written once the answer has gone out
        lines = [r.getMessage() for r in caplog.records if r.name == "t.acc"]
        if lines:
            break
        await asyncio.sleep(0.01)
    await client.close()
    assert len(lines) == 1 and "\n" not in lines[0], lines
    assert "%0A" in lines[0], lines


@pytest.mark.parametrize("path", ["/static/index.html", "/static/bureau.html", "/", "/cashier"])
async def test_pages_carry_their_csp_and_nosniff_wherever_they_are_served(
    api: Api, path: str
) -> None:
    resp = await api.client.get(path)
    assert resp.status == 200
    assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]
    assert "default-src 'self'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["X-Frame-Options"] == "DENY"


async def test_favicon_is_served_and_no_server_version_is_named(api: Api) -> None:
    resp = await api.client.get("/favicon.ico")
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "image/x-icon"
    assert (await resp.read())[:4] == b"\x00\x00\x01\x00"
    for path in ("/favicon.ico", "/api/v1/categories", "/api/v1/nowhere", "/"):
        resp = await api.client.get(path)
        assert resp.headers["Server"] == "festival", path
        assert resp.headers["X-Content-Type-Options"] == "nosniff", path


async def test_docs_page_runs_under_its_csp(api: Api) -> None:
    resp = await api.client.get("/api/docs")
    html = await resp.text()
    assert "<script>" not in html  # no inline script: script-src 'self' would block it
    resp = await api.client.get("/api/docs/init.js")
    assert resp.status == 200 and "SwaggerUIBundle" in await resp.text()


@pytest.mark.parametrize(
    ("claims", "status"),
    [
        ({"exp": "9999999999"}, 401),
        ({"iat": "1"}, 401),
        ({"nbf": "1"}, 401),
        ({"exp": True}, 401),
        ({"aud": ["other", "festival-api"]}, 200),
        ({"aud": ["festival-api"]}, 200),
        ({"aud": ["other"]}, 401),
        ({"aud": []}, 401),
        ({"aud": [["festival-api"]]}, 401),
    ],
)
async def test_numeric_dates_must_be_numbers_and_aud_may_be_an_array(
    api: Api, claims: dict[str, Any], status: int
) -> None:
    got, body = await api.call(
        "GET", "/api/v1/auth/me", headers=signed(role="bureau", sub="ops", **claims)
    )
    assert got == status, body


async def test_a_job_run_needs_no_body(api: Api) -> None:
    status, body = await api.call(
        "POST", "/api/v1/admin/jobs/expiry_sweep/runs", headers=api.bureau
    )
    assert status == 202, body
    assert body["date"] is None


async def test_openapi_documents_json_stats_and_the_idempotency_key(api: Api) -> None:
    _, spec = await api.call("GET", "/api/openapi.json", expect=200)
    merchants = spec["paths"]["/api/v1/stats/merchants"]["get"]["responses"]["200"]["content"]
    assert set(merchants) == {"application/json", "text/csv", XLSX}
    summary = spec["paths"]["/api/v1/stats/summary"]["get"]["responses"]["200"]["content"]
    assert "application/json" in summary
    (header,) = [
        p
        for p in spec["paths"][REDEMPTIONS]["post"]["parameters"]
        if p.get("name") == "Idempotency-Key"
    ]
    assert header["schema"]["minLength"] == 1 and header["schema"]["maxLength"] == 64
    assert header["schema"]["pattern"].startswith("^") and header["schema"]["pattern"].endswith("$")
    phone = spec["components"]["schemas"]["OtpRequest"]["properties"]["phone"]["pattern"]
    assert phone == "^(?:1[3-9][0-9]{9})$"
    runs = spec["paths"]["/api/v1/admin/jobs/{name}/runs"]["post"]["requestBody"]
    assert runs["required"] is False


def test_metrics_are_not_published_by_the_compose_nginx() -> None:
    conf = (ROOT / "deploy" / "nginx-compose.conf").read_text()
    public = conf.split("server {")[1]
    assert "listen 80;" in public
    assert "location = /metrics {\n        return 404;" in public
    assert "server_tokens off;" in public
    compose = (ROOT / "deploy" / "compose.yaml").read_text()
    assert '"9113' not in compose  # the metrics port is never published
    assert "combined" not in conf  # the combined log format writes query strings


async def test_answers_with_tokens_keys_or_personal_data_are_never_cached(api: Api) -> None:
    from tests.support.factories import merchant_body

    created = await api.create_merchant()
    mid = created["merchant"]["id"]
    login = await api.client.post(
        "/api/v1/auth/merchant", json={"merchant_id": mid, "api_key": created["api_key"]}
    )
    assert login.status == 200
    made = await api.client.post(
        "/api/v1/admin/merchants",
        json=merchant_body(),
        headers=api.bureau,
    )
    wallet = await api.client.get("/api/v1/me/vouchers", headers=api.auth("resident", "alice"))
    merchants = await api.client.get("/api/v1/admin/merchants", headers=api.bureau)
    refused = await api.client.get("/api/v1/me/vouchers")
    for answer in (login, made, wallet, merchants, refused):
        assert answer.headers.get("Cache-Control") == "no-store", (answer.url, answer.headers)


def test_the_servers_own_refusals_are_the_json_error_without_the_request(
    db_url: str, tmp_path: Path
) -> None:
    """The tester's 3rd: aiohttp's parser answered a 10 KB header or a header name `<script>`
    itself, as text echoing the bytes, with `Server: Python/3.11 aiohttp/…`. Over a raw socket
    to a real `festival serve`."""
    import socket
    from urllib.parse import urlsplit

    from tests.support.processes import festival_env, serving

    env = festival_env(db_url, tmp_path)
    with serving(env, tmp_path / "serve.log", "--no-scheduler") as server:
        port = urlsplit(server.base).port
        for raw in (
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"A" * 10_000 + b"\r\n\r\n",
            b"GET /healthz HTTP/1.1\r\nHost: x\r\n<script>alert(1)</script>: 1\r\n\r\n",
            b"G<script>ET / HTTP/1.1\r\n\r\n",
            b"GET /api/v1/categories HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
        ):
            with socket.create_connection(("127.0.0.1", port or 0), timeout=10) as conn:
                conn.sendall(raw)
                answer = b""
                while chunk := conn.recv(65536):
                    answer += chunk
            head, _, body = answer.partition(b"\r\n\r\n")
            headers = head.decode("latin-1").lower()
            assert head.startswith(b"HTTP/1.") and b" 400 " in head.split(b"\r\n")[0], answer
            assert "server: festival" in headers and "aiohttp" not in headers, headers
            assert "content-type: application/json" in headers, headers
            error = json.loads(body)
            assert error["error"]["code"] == "invalid_request", error
            assert b"script" not in body and b"AAAA" not in body, body
        assert "Traceback" not in server.log()
