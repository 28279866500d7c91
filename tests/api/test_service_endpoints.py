"""Service endpoints and the error contract that every path shares."""

from __future__ import annotations

import io

from tests.conftest import Api, assert_error


async def test_healthz_and_readyz(api: Api) -> None:
    status, body = await api.call("GET", "/healthz")
    assert (status, body) == (200, {"status": "ok"})
    status, body = await api.call("GET", "/readyz")
    assert status == 200 and body["status"] == "ready", body


async def test_categories_are_the_four_of_the_festival(api: Api) -> None:
    _, body = await api.call("GET", "/api/v1/categories", expect=200)
    assert body == [
        {"code": "shopping", "name_zh": "购物", "name_en": "Shopping"},
        {"code": "dining", "name_zh": "餐饮", "name_en": "Dining"},
        {"code": "culture_tourism", "name_zh": "文化旅游", "name_en": "Culture & tourism"},
        {"code": "auto", "name_zh": "汽车销售", "name_en": "Auto sales"},
    ]


async def test_request_id_is_echoed_or_made(api: Api) -> None:
    resp = await api.client.get("/healthz", headers={"X-Request-Id": "abc-123"})
    assert resp.headers["X-Request-Id"] == "abc-123"
    resp = await api.client.get("/api/v1/nowhere")
    assert len(resp.headers["X-Request-Id"]) == 32
    # A header that could forge log lines is replaced, not echoed.
    resp = await api.client.get("/healthz", headers={"X-Request-Id": "bad id\twith tab"})
    assert resp.headers["X-Request-Id"] != "bad id\twith tab"


async def test_made_request_ids_are_unique_in_a_process_and_across_forked_ones(api: Api) -> None:
    import multiprocessing

    from service.middlewares import _new_request_id

    made = set()
    for _ in range(50):
        resp = await api.client.get("/healthz")
        made.add(resp.headers["X-Request-Id"])
    assert len(made) == 50 and all(len(m) == 32 for m in made)
    # A worker forked from this process makes ids of its own, not a copy of the parent's.
    with multiprocessing.get_context("fork").Pool(1) as pool:
        child = pool.apply(_new_request_id)
    assert child[:16] != _new_request_id()[:16]


async def test_error_bodies_remembered_per_code_and_message_never_mix(api: Api) -> None:
    import json

    from service.errors import DomainError, ErrorCode
    from service.middlewares import _error_response

    def body(err: DomainError) -> dict:
        return json.loads(_error_response(err).body)  # type: ignore[arg-type]

    for _ in range(2):  # the second time from what was remembered
        assert body(DomainError(ErrorCode.SOLD_OUT, "a")) == {
            "error": {"code": "sold_out", "message": "a", "details": {}}
        }
        assert body(DomainError(ErrorCode.SOLD_OUT, "b"))["error"]["message"] == "b"
        assert body(DomainError(ErrorCode.NOT_FOUND, "a"))["error"]["code"] == "not_found"
        with_details = DomainError(ErrorCode.SOLD_OUT, "a", {"batch": _})
        assert body(with_details)["error"]["details"] == {"batch": _}


async def test_unknown_route_and_wrong_method_get_the_error_body(api: Api) -> None:
    status, body = await api.call("GET", "/api/v1/nowhere")
    assert_error(status, body, 404, "not_found")
    status, body = await api.call("DELETE", "/api/v1/categories")
    assert_error(status, body, 405, "method_not_allowed")


async def test_oversize_body_is_413(api: Api) -> None:
    big = b'{"name": "' + b"x" * (1024 * 1024 + 10) + b'"}'
    status, body = await api.call(
        "POST",
        "/api/v1/admin/merchants",
        data=io.BytesIO(big),
        headers={**api.bureau, "Content-Type": "application/json"},
    )
    assert_error(status, body, 413, "payload_too_large")


async def test_malformed_json_is_invalid_request(api: Api) -> None:
    for raw in (b"{not json", b"", b"[1, 2]", b'"text"', b"\xff\xfe"):
        status, body = await api.call(
            "POST",
            "/api/v1/admin/merchants",
            data=raw,
            headers={**api.bureau, "Content-Type": "application/json"},
        )
        assert_error(status, body, 400, "invalid_request")


async def test_metrics_count_requests_per_route(api: Api) -> None:
    await api.call("GET", "/api/v1/categories", expect=200)
    resp = await api.client.get("/metrics")
    text = await resp.text()
    assert resp.status == 200
    assert (
        'festival_http_requests_total{method="GET",route="/api/v1/categories",status="200"} 1.0'
        in text
    )
    assert "festival_http_request_duration_seconds_bucket" in text


async def test_openapi_documents_every_route_with_its_schemas(api: Api) -> None:
    _, spec = await api.call("GET", "/api/openapi.json", expect=200)
    assert spec["openapi"].startswith("3.")
    paths = spec["paths"]
    for path, method in [
        ("/api/v1/categories", "get"),
        ("/api/v1/admin/merchants", "post"),
        ("/api/v1/admin/merchants/{id}", "patch"),
        ("/api/v1/batches", "get"),
        ("/api/v1/admin/batches", "post"),
        ("/api/v1/auth/otp", "post"),
        ("/api/v1/auth/resident", "post"),
    ]:
        assert method in paths[path], (path, method)
    create = paths["/api/v1/admin/merchants"]["post"]
    schema_ref = create["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    body_schema = spec["components"]["schemas"][schema_ref.rsplit("/", 1)[1]]
    assert set(body_schema["required"]) == {
        "name",
        "category",
        "credit_code",
        "district",
        "address",
        "contact_phone",
    }
    assert create["security"] == [{"bearer": []}]
    assert "403" in create["responses"] and "401" in create["responses"]


async def test_docs_page_is_served_without_internet(api: Api) -> None:
    resp = await api.client.get("/api/docs")
    html = await resp.text()
    assert resp.status == 200 and "swagger-ui-bundle.js" in html
    assert "http://" not in html and "https://" not in html
    resp = await api.client.get("/api/docs/static/swagger-ui-bundle.js")
    assert resp.status == 200


async def test_readyz_reports_pending_migrations(api: Api) -> None:
    import asyncpg

    conn = await asyncpg.connect(api.settings.database_url)
    try:
        await conn.execute(
            "DELETE FROM schema_migrations WHERE version = (SELECT max(version) FROM schema_migrations)"
        )
    finally:
        await conn.close()
    resp = await api.client.get("/readyz")
    body = await resp.json()
    assert resp.status == 503 and body["reason"] == "migrations pending", body
    assert resp.headers["Retry-After"] == "5"


async def test_unexpected_exception_is_a_500_with_the_error_body(
    settings: object, clock: object, sms: object, aiohttp_client: object
) -> None:
    from aiohttp import web

    from service.app import create_app

    app = create_app(settings=settings, clock=clock, sms=sms)  # type: ignore[arg-type]

    async def boom(_: web.Request) -> web.Response:
        raise RuntimeError("secret internals")

    app.router.add_get("/boom", boom)
    client = await aiohttp_client(app)  # type: ignore[operator]
    resp = await client.get("/boom", headers={"X-Request-Id": "rid-1"})
    body = await resp.json()
    assert_error(resp.status, body, 500, "internal_error")
    assert body["error"]["details"] == {"request_id": "rid-1"}
    assert "secret internals" not in await resp.text()


async def test_database_refusing_connections_answers_503_then_recovers(
    api: Api, server_url: str
) -> None:
    """A database that refuses new connections is 503 unavailable with Retry-After, never a
    bare 500; once it accepts connections again, so does the API."""
    from urllib.parse import urlsplit

    import asyncpg

    await api.call("GET", "/api/v1/categories", expect=200)
    dbname = urlsplit(api.settings.database_url).path.lstrip("/")
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'ALTER DATABASE "{dbname}" ALLOW_CONNECTIONS false')
        await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1",
            dbname,
        )
        resp = await api.client.get("/api/v1/categories")
        assert_error(resp.status, await resp.json(), 503, "unavailable")
        assert int(resp.headers["Retry-After"]) > 0
    finally:
        await admin.execute(f'ALTER DATABASE "{dbname}" ALLOW_CONNECTIONS true')
        await admin.close()
    await api.call("GET", "/api/v1/categories", expect=200)
