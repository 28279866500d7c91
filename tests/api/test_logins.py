"""Sign-in of the three roles, and the limits that keep brute force and SMS costs down."""

from __future__ import annotations

import asyncpg

from service.auth import hash_password
from tests.conftest import Api, assert_error

PHONE = "13912345678"


async def me(api: Api, token: str) -> dict:
    _, body = await api.call(
        "GET", "/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}, expect=200
    )
    return body


async def test_merchant_signs_in_with_its_api_key(api: Api) -> None:
    created = await api.create_merchant()
    mid = created["merchant"]["id"]
    _, body = await api.call(
        "POST",
        "/api/v1/auth/merchant",
        json={"merchant_id": mid, "api_key": created["api_key"]},
        expect=200,
    )
    assert body["token_type"] == "Bearer" and body["expires_in"] == api.settings.access_token_ttl_s
    assert await me(api, body["access_token"]) == {
        "role": "merchant",
        "sub": f"merchant:{mid}",
        "merchant_id": mid,
        "merchant_name": created["merchant"]["name"],
    }


async def test_merchant_sign_in_refusals(api: Api) -> None:
    created = await api.create_merchant()
    mid = created["merchant"]["id"]
    for body in (
        {"merchant_id": mid, "api_key": created["api_key"] + "x"},
        {"merchant_id": mid + 1000, "api_key": created["api_key"]},
    ):
        status, answer = await api.call("POST", "/api/v1/auth/merchant", json=body)
        assert_error(status, answer, 401, "unauthorized")
    for body in (
        {"merchant_id": str(mid), "api_key": created["api_key"]},
        {"merchant_id": mid},
        {"merchant_id": mid, "api_key": created["api_key"], "role": "bureau"},
    ):
        status, answer = await api.call("POST", "/api/v1/auth/merchant", json=body)
        assert_error(status, answer, 400, "invalid_request")


async def test_suspended_merchant_still_signs_in(api: Api) -> None:
    created = await api.create_merchant()
    mid = created["merchant"]["id"]
    await api.call(
        "PATCH",
        f"/api/v1/admin/merchants/{mid}",
        json={"status": "suspended"},
        headers=api.bureau,
        expect=200,
    )
    await api.call(
        "POST",
        "/api/v1/auth/merchant",
        json={"merchant_id": mid, "api_key": created["api_key"]},
        expect=200,
    )


async def add_bureau_user(api: Api, username: str, password: str) -> None:
    conn = await asyncpg.connect(api.settings.database_url)
    try:
        await conn.execute(
            "INSERT INTO bureau_users (username, password_hash) VALUES ($1, $2)",
            username,
            hash_password(password),
        )
    finally:
        await conn.close()


async def test_bureau_signs_in_and_passwords_are_slow_salted_hashes(api: Api) -> None:
    await add_bureau_user(api, "analyst", "correct horse battery")
    _, body = await api.call(
        "POST",
        "/api/v1/auth/bureau",
        json={"username": "analyst", "password": "correct horse battery"},
        expect=200,
    )
    assert (await me(api, body["access_token"]))["role"] == "bureau"
    conn = await asyncpg.connect(api.settings.database_url)
    try:
        stored = await conn.fetchval("SELECT password_hash FROM bureau_users")
    finally:
        await conn.close()
    assert stored.startswith("$argon2id$") and "correct horse" not in stored
    for body in (
        {"username": "analyst", "password": "wrong horse battery"},
        {"username": "nobody", "password": "correct horse battery"},
    ):
        status, answer = await api.call("POST", "/api/v1/auth/bureau", json=body)
        assert_error(status, answer, 401, "unauthorized")


async def test_bureau_password_guessing_is_rate_limited(api: Api) -> None:
    await add_bureau_user(api, "analyst", "correct horse battery")
    for _ in range(10):
        status, _ = await api.call(
            "POST", "/api/v1/auth/bureau", json={"username": "analyst", "password": "guess"}
        )
        assert status == 401
    resp = await api.client.post(
        "/api/v1/auth/bureau", json={"username": "analyst", "password": "correct horse battery"}
    )
    assert_error(resp.status, await resp.json(), 429, "rate_limited")
    assert int(resp.headers["Retry-After"]) > 0


async def request_code(api: Api, phone: str = PHONE) -> str:
    await api.call("POST", "/api/v1/auth/otp", json={"phone": phone}, expect=202)
    return api.sms.codes[phone]


async def test_resident_signs_in_with_a_single_use_sms_code(api: Api) -> None:
    code = await request_code(api)
    assert len(code) == 6 and code.isdigit()
    _, body = await api.call(
        "POST", "/api/v1/auth/resident", json={"phone": PHONE, "code": code}, expect=200
    )
    first = await me(api, body["access_token"])
    assert first["role"] == "resident" and first["sub"].startswith("r_")
    # Single use.
    status, answer = await api.call(
        "POST", "/api/v1/auth/resident", json={"phone": PHONE, "code": code}
    )
    assert_error(status, answer, 401, "unauthorized")
    # The same phone signs in as the same resident next time.
    api.clock.advance(minutes=2)
    code = await request_code(api)
    _, body = await api.call(
        "POST", "/api/v1/auth/resident", json={"phone": PHONE, "code": code}, expect=200
    )
    assert (await me(api, body["access_token"]))["sub"] == first["sub"]


async def test_phone_numbers_are_not_stored(api: Api) -> None:
    code = await request_code(api)
    await api.call("POST", "/api/v1/auth/resident", json={"phone": PHONE, "code": code}, expect=200)
    conn = await asyncpg.connect(api.settings.database_url)
    try:
        rows = await conn.fetch("SELECT * FROM residents")
        dump = repr([dict(r) for r in rows]) + repr(await conn.fetch("SELECT * FROM otp_codes"))
        dump += repr(await conn.fetch("SELECT * FROM rate_limits"))
    finally:
        await conn.close()
    assert PHONE not in dump
    assert rows[0]["phone_masked"] == "139****5678"


async def test_code_locks_after_five_wrong_tries(api: Api) -> None:
    code = await request_code(api)
    wrong = "000000" if code != "000000" else "111111"
    for attempt in range(5):
        status, answer = await api.call(
            "POST", "/api/v1/auth/resident", json={"phone": PHONE, "code": wrong}
        )
        assert_error(status, answer, 401, "unauthorized")
        assert answer["error"]["details"]["attempts_left"] == 4 - attempt
    status, answer = await api.call(
        "POST", "/api/v1/auth/resident", json={"phone": PHONE, "code": code}
    )
    assert_error(status, answer, 401, "unauthorized")
    assert answer["error"]["details"] == {"reason": "locked"}


async def test_code_expires_after_five_minutes(api: Api) -> None:
    code = await request_code(api)
    api.clock.advance(minutes=5)
    status, answer = await api.call(
        "POST", "/api/v1/auth/resident", json={"phone": PHONE, "code": code}
    )
    assert_error(status, answer, 401, "unauthorized")


async def test_code_just_inside_five_minutes_works(api: Api) -> None:
    code = await request_code(api)
    api.clock.advance(seconds=299)
    await api.call("POST", "/api/v1/auth/resident", json={"phone": PHONE, "code": code}, expect=200)


async def test_sms_requests_are_rate_limited_per_phone(api: Api) -> None:
    await request_code(api)
    resp = await api.client.post("/api/v1/auth/otp", json={"phone": PHONE})
    assert_error(resp.status, await resp.json(), 429, "rate_limited")
    assert 0 < int(resp.headers["Retry-After"]) <= 60
    # Another phone is not affected; the same phone may ask again a minute later.
    await request_code(api, "13700000000")
    api.clock.advance(seconds=61)
    await request_code(api)


async def test_sms_requests_are_rate_limited_per_ip(api: Api) -> None:
    for i in range(30):
        await request_code(api, f"1350000{i:04d}")
    resp = await api.client.post("/api/v1/auth/otp", json={"phone": "13600000000"})
    assert_error(resp.status, await resp.json(), 429, "rate_limited")
    api.clock.advance(hours=1)
    await request_code(api, "13600000000")


async def test_otp_input_validation(api: Api) -> None:
    for body in ({"phone": "12345"}, {"phone": 13912345678}, {}, {"phone": PHONE, "x": 1}):
        status, answer = await api.call("POST", "/api/v1/auth/otp", json=body)
        assert_error(status, answer, 400, "invalid_request")
    for body in (
        {"phone": PHONE, "code": "12345"},
        {"phone": PHONE, "code": 123456},
        {"phone": PHONE},
    ):
        status, answer = await api.call("POST", "/api/v1/auth/resident", json=body)
        assert_error(status, answer, 400, "invalid_request")


async def test_log_sender_masks_the_phone(caplog: object) -> None:
    import logging

    from service.sms import LogSmsSender

    assert hasattr(caplog, "at_level")
    with caplog.at_level(logging.INFO):  # type: ignore[attr-defined]
        await LogSmsSender().send_login_code(PHONE, "123456")
    text = caplog.text  # type: ignore[attr-defined]
    assert "139****5678" in text and "123456" in text and PHONE not in text
