"""Paying merchants over HTTP: account fields masked, a bank file per settled day whose lines
go out once, the bank's return file all or nothing, and a reconciliation to the fen."""

from __future__ import annotations

import csv
import io
from typing import Any

from service import keys
from tests.conftest import Api, assert_error, assert_invalid, assert_queries_invalid
from tests.test_risk import CLEAR, DAY, FLAGS, HUG, batch, scan, series, settle, shop

EXPORTS = "/api/v1/admin/payments/exports"
RETURNS = "/api/v1/admin/payments/returns"
RECONCILIATION = "/api/v1/admin/payments/reconciliation"
ACCOUNT = {"account_name": "济南某某商贸有限公司", "account_no": "6222020200112233445"}


async def with_account(api: Api, merchant_id: int, account_no: str) -> None:
    await api.call(
        "PATCH",
        f"/api/v1/admin/merchants/{merchant_id}",
        json={**ACCOUNT, "account_no": account_no},
        headers=api.bureau,
        expect=200,
    )


async def reconcile(api: Api) -> dict[str, Any]:
    _, body = await api.call(
        "GET", RECONCILIATION, params={"date": DAY.isoformat()}, headers=api.bureau, expect=200
    )
    return dict(body)


async def returns(api: Api, text: str) -> tuple[int, Any]:
    headers = {**api.bureau, "Content-Type": "text/csv"}
    return await api.call("PUT", RETURNS, data=text.encode(), headers=headers)


async def test_accounts_are_masked_and_given_whole(api: Api) -> None:
    created = await api.create_merchant(**ACCOUNT)
    assert created["merchant"]["account_no"] == "**** **** 3445"
    assert created["merchant"]["account_name"] == ACCOUNT["account_name"]
    status, body = await api.call(
        "POST",
        "/api/v1/admin/merchants",
        json={**(await _body()), "account_no": "6222020200112233445"},
        headers=api.bureau,
    )
    assert_invalid(status, body, "account_no")
    status, body = await api.call(
        "POST",
        "/api/v1/admin/merchants",
        json={**(await _body()), **ACCOUNT, "account_no": "6222-0202"},
        headers=api.bureau,
    )
    assert_invalid(status, body, "account_no")
    _, listed = await api.call("GET", "/api/v1/admin/merchants", headers=api.bureau, expect=200)
    assert ACCOUNT["account_no"] not in str(listed) and "**** **** 3445" in str(listed)
    _, trail = await api.call("GET", "/api/v1/admin/audit", headers=api.bureau, expect=200)
    assert ACCOUNT["account_no"] not in str(trail)


async def test_references_carry_a_merchant_id_of_five_digits_whole(api: Api) -> None:
    """Ids pad to four digits and never shorten: 12345 and 1234 are different lines."""
    await api.client.app[keys.DB].pool.execute("SELECT setval('merchants_id_seq', 12344)")
    b = await batch(api)
    big = await shop(api)
    assert big.id == 12345
    await with_account(api, big.id, "6222020200112233445")
    await series(api, big, b, [CLEAR])
    await settle(api, DAY)
    status, text = await api.call(
        "POST", EXPORTS, json={"date": DAY.isoformat()}, headers=api.bureau
    )
    assert status == 201, text
    (row,) = csv.DictReader(io.StringIO(text))
    assert row["reference"] == "HYF-20200506-12345"
    status, applied = await returns(api, "reference,status\nHYF-20200506-12345,paid\n")
    assert (status, applied) == (200, {"rows": 1})


async def _body() -> dict[str, Any]:
    from tests.factories import merchant_body

    return merchant_body()


async def test_a_day_is_exported_once_returned_all_or_nothing_and_reconciled(api: Api) -> None:
    b = await batch(api)
    paid_shop, failed_shop, no_account = await shop(api), await shop(api), await shop(api)
    await with_account(api, paid_shop.id, "6222020200112233445")
    await with_account(api, failed_shop.id, "6217000010001234567")
    await series(api, paid_shop, b, [CLEAR] * 3)  # 60.00 yuan of subsidy
    await series(api, failed_shop, b, [CLEAR] * 2)  # 40.00
    await series(api, no_account, b, [CLEAR])  # 20.00, stays pending
    body = {"date": DAY.isoformat()}
    status, refused = await api.call("POST", EXPORTS, json=body, headers=api.bureau)
    assert_error(status, refused, 409, "conflict")  # not settled yet
    await settle(api, DAY)

    status, text = await api.call("POST", EXPORTS, json=body, headers=api.bureau)
    assert status == 201, text
    rows = list(csv.DictReader(io.StringIO(text)))
    ref = f"HYF-20200506-{paid_shop.id:04d}"
    failed_ref = f"HYF-20200506-{failed_shop.id:04d}"
    assert rows == [
        {
            "reference": ref,
            "merchant_id": str(paid_shop.id),
            "account_name": ACCOUNT["account_name"],
            "account_no": "6222020200112233445",
            "amount_yuan": "60.00",
        },
        {
            "reference": failed_ref,
            "merchant_id": str(failed_shop.id),
            "account_name": ACCOUNT["account_name"],
            "account_no": "6217000010001234567",
            "amount_yuan": "40.00",
        },
    ]
    status, again = await api.call("POST", EXPORTS, json=body, headers=api.bureau)
    assert_error(status, again, 409, "conflict")  # the same lines never go out twice
    r = await reconcile(api)
    assert (r["settled_fen"], r["redemptions_fen"], r["pending_fen"], r["exported_fen"]) == (
        12_000,
        12_000,
        2_000,
        10_000,
    )
    assert (r["in_flight_fen"], r["balanced"]) == (10_000, True)

    # A bad return file changes nothing, whatever is wrong with it.
    for bad, line in (
        (f"reference,status\n{ref},paid\nHYF-20200506-9999,paid\n", "3"),
        (f"reference,status\n{ref},paid\n{ref},failed\n", "3"),
        (f"reference,status,amount_yuan\n{ref},paid,60.01\n", "2"),
        (f"reference,status\n{ref},bounced\n", "2"),
        (f"reference,status\n\n{ref},paid\nHYF-20200506-9999,paid\n", "4"),  # a blank line 2
    ):
        status, body_ = await returns(api, bad)
        assert_error(status, body_, 400, "invalid_request")
        assert line in body_["error"]["details"]["lines"], (bad, body_)
    assert (await reconcile(api))["in_flight_fen"] == 10_000

    status, applied = await returns(
        api, f"reference,status,amount_yuan\n{ref},paid,60.00\n{failed_ref},failed,40.00\n"
    )
    assert (status, applied) == (200, {"rows": 2})
    r = await reconcile(api)
    assert (r["paid_fen"], r["failed_fen"], r["in_flight_fen"], r["balanced"]) == (
        6_000,
        4_000,
        0,
        True,
    )
    status, body_ = await returns(api, f"reference,status\n{ref},failed\n")
    assert_error(status, body_, 400, "invalid_request")  # already returned
    _, trail = await api.call(
        "GET", "/api/v1/admin/audit", params={"object": "payments"}, headers=api.bureau
    )
    assert [e["action"] for e in trail["items"]] == ["payments.returns"]
    assert trail["items"][0]["after"] == {"rows": 2, "paid": [ref], "failed": [failed_ref]}


async def test_held_lines_stay_out_of_the_bank_file(api: Api) -> None:
    b = await batch(api)
    cheat, honest = await shop(api), await shop(api)
    await with_account(api, cheat.id, "6222020200112233445")
    await with_account(api, honest.id, "6217000010001234567")
    await series(api, cheat, b, [HUG] * 20)
    await series(api, honest, b, [CLEAR] * 2)
    await scan(api)
    await settle(api, DAY)
    _, found = await api.call("GET", FLAGS, headers=api.bureau, expect=200)
    (flag,) = found["items"]
    await api.call(
        "POST",
        f"{FLAGS}/{flag['id']}/review",
        json={"decision": "confirm", "note": "凑单"},
        headers=api.bureau,
        expect=200,
    )
    status, text = await api.call(
        "POST", EXPORTS, json={"date": DAY.isoformat()}, headers=api.bureau
    )
    assert status == 201
    assert [row["merchant_id"] for row in csv.DictReader(io.StringIO(text))] == [str(honest.id)]
    r = await reconcile(api)
    assert (r["held_fen"], r["exported_fen"], r["pending_fen"], r["balanced"]) == (
        40_000,
        4_000,
        0,
        True,
    )


async def test_bad_payment_requests_are_400(api: Api) -> None:
    for bad in ({}, {"date": "2020-02-30"}, {"date": 20200506}, {"date": "2020-05-06", "x": 1}):
        status, body = await api.call("POST", EXPORTS, json=bad, headers=api.bureau)
        assert_error(status, body, 400, "invalid_request")
    await assert_queries_invalid(
        api, RECONCILIATION, "?date=0001-01-01 ?date=6/5/2020", headers=api.bureau
    )
    status, body = await api.call("GET", RECONCILIATION, headers=api.bureau)
    assert_invalid(status, body, "date")
    status, body = await returns(api, "")
    assert_error(status, body, 400, "invalid_request")
    headers = {**api.bureau, "Content-Type": "text/csv"}
    status, body = await api.call("PUT", RETURNS, data=b"reference,status\n\xff\n", headers=headers)
    assert_error(status, body, 400, "invalid_request")
    status, body = await api.call("PUT", RETURNS, data=b"ref,state\nx,paid\n", headers=headers)
    assert_invalid(status, body, "lines")  # the wrong header: line 1
    status, body = await api.call(  # JSON is not a return file: no header line
        "PUT", RETURNS, json={"reference": "x", "status": "paid"}, headers=api.bureau
    )
    assert_invalid(status, body, "lines")
    status, body = await api.call(
        "GET", RECONCILIATION, params={"date": "2020-05-06", "page": "2"}, headers=api.bureau
    )
    assert_invalid(status, body, "page")  # unknown
    # A bank account given in part, or malformed, on an existing merchant.
    mid = (await api.create_merchant())["merchant"]["id"]
    for bad, field in (
        ({"account_no": "6222020200112233445"}, "account_no"),  # without its name
        ({"account_name": ACCOUNT["account_name"]}, "account_no"),
        ({**ACCOUNT, "account_no": "6222-0202"}, "account_no"),
        ({**ACCOUNT, "account_no": 6222020200112233445}, "account_no"),
    ):
        status, body = await api.call(
            "PATCH", f"/api/v1/admin/merchants/{mid}", json=bad, headers=api.bureau
        )
        assert_invalid(status, body, field, bad)
    for role in ("resident", "merchant"):
        status, body = await api.call(
            "POST",
            EXPORTS,
            json={"date": "2020-05-06"},
            headers=api.auth(role, mid=1 if role == "merchant" else None),
        )
        assert_error(status, body, 403, "forbidden")
