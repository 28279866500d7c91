"""The pages and their files as HTTP serves them: HEAD as GET without the body (uptime
monitors send HEAD), a meta description on every page, gzip when the browser takes it, with
Vary and validators that make a revisit a 304."""

from __future__ import annotations

import re

import pytest

from service.api.pages import VENDOR, WEB
from tests.conftest import Api

PAGES = ["/", "/join", "/cashier", "/bureau", "/bureau/money", "/bureau/bulletin"]
FILES = ["/static/style.css", "/static/bureau.js", "/static/vendor/echarts.min.js"]
IDENTITY = {"Accept-Encoding": "identity"}
GZIP = {"Accept-Encoding": "gzip, deflate, br"}


@pytest.mark.parametrize("path", [*PAGES, *FILES, "/favicon.ico"])
async def test_head_answers_as_get_without_a_body(api: Api, path: str) -> None:
    got = await api.client.get(path, headers=IDENTITY)
    body = await got.read()
    head = await api.client.head(path, headers=IDENTITY)
    assert (got.status, head.status) == (200, 200)
    assert await head.read() == b""
    for name in ("Content-Type", "Content-Length", "ETag", "Content-Security-Policy"):
        assert head.headers.get(name) == got.headers.get(name), name
    assert int(head.headers["Content-Length"]) == len(body)


@pytest.mark.parametrize("path", PAGES)
async def test_every_page_has_a_chinese_meta_description(api: Api, path: str) -> None:
    html = await (await api.client.get(path)).text()
    found = re.search(r'<meta name="description" content="([^"]{10,160})">', html)
    assert found is not None, html[:600]
    assert "春暖槐荫消费节" in found[1]


@pytest.mark.parametrize("path", ["/bureau", *FILES])
async def test_text_files_are_gzipped_with_vary_and_a_validator(api: Api, path: str) -> None:
    plain = await api.client.get(path, headers=IDENTITY, auto_decompress=False)
    raw = await plain.read()
    assert "Content-Encoding" not in plain.headers
    squeezed = await api.client.get(path, headers=GZIP, auto_decompress=False)
    assert squeezed.headers["Content-Encoding"] == "gzip"
    assert int(squeezed.headers["Content-Length"]) < len(raw) * 0.6
    for resp in (plain, squeezed):
        assert resp.headers["Vary"] == "Accept-Encoding"
        assert resp.headers["Last-Modified"].endswith(" GMT")
    assert plain.headers["ETag"] != squeezed.headers["ETag"]
    again = await api.client.get(
        path, headers={**GZIP, "If-None-Match": squeezed.headers["ETag"]}, auto_decompress=False
    )
    assert again.status == 304 and await again.read() == b""
    stale = await api.client.get(path, headers={**GZIP, "If-None-Match": plain.headers["ETag"]})
    assert stale.status == 200


async def test_the_gzipped_bytes_are_the_file(api: Api) -> None:
    resp = await api.client.get("/static/vendor/echarts.min.js", headers=GZIP)
    assert await resp.read() == VENDOR["echarts.min.js"].read_bytes()
    resp = await api.client.get("/static/style.css", headers=GZIP)
    assert await resp.read() == (WEB / "style.css").read_bytes()
    assert resp.content_type == "text/css"


@pytest.mark.parametrize(
    "path", ["/static/nothing.css", "/static/..%2Fapi%2Fpages.py", "/static/.hidden"]
)
async def test_only_the_pages_own_files_are_served(api: Api, path: str) -> None:
    assert (await api.client.get(path)).status == 404
    assert (await api.client.head(path)).status == 404
