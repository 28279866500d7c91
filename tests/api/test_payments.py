"""Paying merchants over HTTP, from the ledger: account fields masked; a bank file pays
balances (not day lines), is kept byte for byte and idempotent by key; the bank's returns are
answered once, all rows or none, and a failed payment is paid again under a new reference;
clawbacks bigger than what is owed leave a receivable that later earnings net against."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from jobs.registry import BY_NAME
from service import keys
from tests.conftest import Api, assert_error, assert_invalid, assert_queries_invalid
from tests.support.downloads import csv_body
from tests.support.money import (
    ACCOUNT,
    EXPORTS,
    RETURNS,
    balances,
    export,
    file_rows,
    returns,
    verified,
    with_account,
)
from tests.support.shops import (
    CLEAR,
    DAY,
    FLAGS,
    batch,
    redeem,
    reverse,
    scan,
    series,
    settle,
    shop,
)

LEDGER = "/api/v1/admin/ledger"


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


async def _body() -> dict[str, Any]:
    from tests.support.factories import merchant_body

    return merchant_body()


async def test_references_carry_the_export_and_a_merchant_id_of_five_digits_whole(
    api: Api,
) -> None:
    """Ids pad to four digits and never shorten: 12345 and 1234 are different payments."""
    await api.client.app[keys.DB].pool.execute("SELECT setval('merchants_id_seq', 12344)")
    b = await batch(api)
    big = await shop(api)
    assert big.id == 12345
    await with_account(api, big.id, "6222020200112233445")
    await series(api, big, b, [CLEAR])
    await settle(api, DAY)
    made = await export(api)
    (row,) = await file_rows(api, made["id"])
    assert row["reference"] == f"HYF-E{made['id']:06d}-12345"
    status, applied = await returns(api, f"reference,status\n{row['reference']},paid\n")
    assert status == 200 and applied["rows"] == 1


async def test_balances_are_paid_kept_answered_once_and_failures_paid_again(api: Api) -> None:
    b = await batch(api)
    paid_shop, failed_shop, no_account = await shop(api), await shop(api), await shop(api)
    await with_account(api, paid_shop.id, "6222020200112233445")
    await with_account(api, failed_shop.id, "6217000010001234567")
    await series(api, paid_shop, b, [CLEAR] * 3)  # 60.00 yuan of subsidy
    await series(api, failed_shop, b, [CLEAR] * 2)  # 40.00
    await series(api, no_account, b, [CLEAR])  # 20.00, stays payable
    # Nothing is payable before the day is settled: an export then pays no one.
    early = await export(api)
    assert (early["rows"], early["total_fen"], early["left_out"]) == (0, 0, [])
    await settle(api, DAY)
    assert (await balances(api, paid_shop.id)) == {"unsettled": 0, "payable": 6000}
    (settled,) = await api.audit(object="settlement/2020-05-06")
    assert (settled["actor"], settled["after"]["merchants"], settled["after"]["settled_fen"]) == (
        "job:settlement",
        3,
        12_000,
    )

    key = "export-2020-05-07-a"
    made = await export(api, key)
    rows = await file_rows(api, made["id"])
    ref, failed_ref = (f"HYF-E{made['id']:06d}-{m.id:04d}" for m in (paid_shop, failed_shop))
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
    assert (made["rows"], made["total_fen"]) == (2, 10_000)
    assert made["left_out"] == [
        {"merchant_id": no_account.id, "reason": "no_account", "balance_fen": 2000}
    ]
    # The file is kept: the same bytes every time, hashing to its sha256.
    resp = await api.client.get(f"{EXPORTS}/{made['id']}/file", headers=api.bureau)
    content = await resp.read()
    assert hashlib.sha256(content).hexdigest() == made["sha256"]
    # The bank's format, not a download for Excel: no byte order mark before the header.
    assert content.startswith(b"reference,merchant_id,account_name,account_no,amount_yuan\r\n")
    assert resp.headers["X-Content-SHA256"] == made["sha256"]
    resp2 = await api.client.get(f"{EXPORTS}/{made['id']}/file", headers=api.bureau)
    assert await resp2.read() == content
    # A retry with the same key answers the same export and moves nothing.
    assert await export(api, key) == made
    assert (await balances(api, paid_shop.id))["payable"] == 0
    # Another key finds nothing left to pay but the merchant without an account.
    assert (await export(api))["rows"] == 0
    _, listed = await api.call("GET", EXPORTS, headers=api.bureau, expect=200)
    assert [e["id"] for e in listed["items"]][-2:] == [made["id"], early["id"]]

    # A bad return file changes nothing, whatever is wrong with it.
    for bad, line in (
        (f"reference,status\n{ref},paid\nHYF-E000999-9999,paid\n", "3"),
        (f"reference,status\n{ref},paid\n{ref},failed\n", "3"),
        (f"reference,status,amount_yuan\n{ref},paid,60.01\n", "2"),
        (f"reference,status\n{ref},bounced\n", "2"),
        (f"reference,status\n\n{ref},paid\nHYF-E000999-9999,paid\n", "4"),  # a blank line 2
    ):
        status, body_ = await returns(api, bad)
        assert_error(status, body_, 400, "invalid_request")
        assert line in body_["error"]["details"]["lines"], (bad, body_)
    _, in_transit = await api.call(
        "GET", f"{LEDGER}/balances", params={"kind": "in_transit"}, headers=api.bureau
    )
    assert [b["balance_fen"] for b in in_transit["items"]] == [10_000]

    status, applied = await returns(
        api, f"reference,status,amount_yuan\n{ref},paid,60.00\n{failed_ref},failed,40.00\n"
    )
    assert status == 200, applied
    assert applied == {"rows": 2, "paid": 1, "failed": 1, "paid_fen": 6000, "failed_fen": 4000}
    # Answered once: again (either way) is already_returned, and nothing moves.
    for again in (f"reference,status\n{ref},failed\n", f"reference,status\n{failed_ref},paid\n"):
        status, body_ = await returns(api, again)
        assert_error(status, body_, 409, "already_returned")
    # The failed payment is payable again, and the next file pays it under a new reference.
    assert (await balances(api, failed_shop.id))["payable"] == 4000
    again = await export(api)
    (row,) = await file_rows(api, again["id"])
    assert row["merchant_id"] == str(failed_shop.id) and row["amount_yuan"] == "40.00"
    assert row["reference"] == f"HYF-E{again['id']:06d}-{failed_shop.id:04d}" != failed_ref
    answered = await api.audit(object="payments")
    assert [e["action"] for e in answered] == ["payments.returns"]
    assert answered[0]["after"]["failed_references"] == [failed_ref]
    _, trail = await api.call(
        "GET",
        "/api/v1/admin/audit",
        params={"object": f"bank_files/{made['id']}"},
        headers=api.bureau,
    )
    (entry,) = trail["items"]
    assert entry["after"]["sha256"] == made["sha256"]
    assert [r["merchant_id"] for r in entry["after"]["rows"]] == [paid_shop.id, failed_shop.id]
    assert (
        "6222020200112233445" not in str(trail) and len(entry["after"]["rows"][0]["account"]) == 16
    )
    body = await verified(api)
    assert body["checks"]["totals"]["paid_fen"] == 6000


async def test_a_clawback_bigger_than_what_is_owed_leaves_a_receivable(api: Api) -> None:
    """The auditor's first finding: a clawback larger than the next day was lost. Now it is a
    receivable that later earnings pay off before anything is paid out."""
    b = await batch(api, quantity=1000)
    burster = await shop(api)
    await with_account(api, burster.id, "6222020200112233445")
    burst = await series(api, burster, b, [CLEAR] * 20, every_minutes=0.5)  # 400.00
    await settle(api, DAY)
    await export(api)  # paid out: 400.00 in transit
    await scan(api)
    (flag,) = await _flags(api)
    await _confirm_and_release(api, flag["id"], clawback=True)
    assert (await balances(api, burster.id))["payable"] == -40_000
    _, owed = await api.call(
        "GET",
        f"{LEDGER}/balances",
        params={"kind": "payable", "negative": "true"},
        headers=api.bureau,
    )
    assert [(b["merchant_id"], b["balance_fen"]) for b in owed["items"]] == [(burster.id, -40_000)]
    # The next days' earnings net against it; nothing is paid while it is below 0.
    for n in (1, 2):
        api.clock.advance(days=1)
        await series(api, burster, b, [CLEAR] * 15)  # 300.00 a day
        await settle(api, DAY + timedelta(days=n))
        made = await export(api)
        if n == 1:
            assert made["rows"] == 0
            assert made["left_out"] == [
                {"merchant_id": burster.id, "reason": "receivable", "balance_fen": -10_000}
            ]
    (row,) = await file_rows(api, made["id"])
    assert row["amount_yuan"] == "200.00"  # 300 + 300 − 400
    assert {int(i) for i in flag["evidence"]["redemption_ids"]} == {r["id"] for r in burst}
    await verified(api)


async def test_a_redemption_is_clawed_back_or_reversed_never_both(api: Api) -> None:
    """The auditor's second finding: a clawback and a same-day reversal recovered the same
    subsidy twice."""
    b = await batch(api, quantity=1000)
    burster = await shop(api)
    burst = await series(api, burster, b, [CLEAR] * 21, every_minutes=0.45)
    await reverse(api, burster, burst[0])  # reversed first: not clawed back
    await scan(api, intraday=True)  # a burst is open at once
    (flag,) = await _flags(api)
    released = await _confirm_and_release(api, flag["id"], clawback=True)
    assert released["clawed_back_redemptions"] == 20 and released["clawed_back_fen"] == 40_000
    # Clawed back first: the reversal is refused, and nothing moves.
    path = f"/api/v1/merchant/redemptions/{burst[1]['id']}/reversal"
    status, body = await api.call("POST", path, json={"reason": "退货"}, headers=burster.headers)
    assert_error(status, body, 409, "already_clawed_back")
    assert await balances(api, burster.id) == {"unsettled": 40_000, "payable": -40_000}
    # The database holds it too: a second unwinding of one redemption is refused.
    pool = api.client.app[keys.DB].pool
    try:
        await pool.execute(
            "INSERT INTO transfers (kind, source, from_account, to_account, amount_fen, at,"
            " business_day, merchant_id, category) VALUES ('reversal', $1, $2, 'subsidy:shopping',"
            " 2000, now(), '2020-05-06', $3, 'shopping')",
            str(burst[1]["id"]),
            f"unsettled:{burster.id}",
            burster.id,
        )
    except asyncpg.IntegrityConstraintViolationError as exc:
        assert exc.constraint_name == "transfers_one_unwind"
    else:
        raise AssertionError("a clawed-back redemption's reversal was stored")
    await settle(api, DAY)
    assert await balances(api, burster.id) == {"unsettled": 0, "payable": 0}
    await verified(api)


async def test_a_day_is_settled_once_it_is_over_and_reversals_stop_there(api: Api) -> None:
    b = await batch(api)
    m = await shop(api)
    done = await series(api, m, b, [CLEAR] * 2)
    result = await api.client.app[keys.JOBS].run_day(BY_NAME["settlement"], DAY, force=True)
    assert result.outcome == "failed" and "not over" in (result.error or "")
    assert await balances(api, m.id) == {"unsettled": 4000, "payable": 0}
    await settle(api, DAY)
    await settle(api, DAY)  # twice: once per (merchant, day)
    assert await balances(api, m.id) == {"unsettled": 0, "payable": 4000}
    # A straggler committed after its day's settlement is settled the next day.
    api.clock.advance(days=1)
    await redeem(api, m, b, "late", CLEAR)
    await settle(api, DAY + timedelta(days=1))
    assert await balances(api, m.id) == {"unsettled": 0, "payable": 6000}
    _, lines = await api.call(
        "GET", "/api/v1/admin/settlements", params={"date": DAY.isoformat()}, headers=api.bureau
    )
    assert [(x["merchant_id"], x["subsidy_fen"], x["status"]) for x in lines["items"]] == [
        (m.id, 4000, "settled")
    ]
    path = f"/api/v1/merchant/redemptions/{done[0]['id']}/reversal"
    status, body = await api.call("POST", path, json={"reason": "退货"}, headers=m.headers)
    assert_error(status, body, 409, "reversal_window_passed")
    await verified(api)


async def test_the_statement_says_what_moved_each_day(api: Api) -> None:
    b = await batch(api)
    m = await shop(api)
    await with_account(api, m.id, "6222020200112233445")
    done = await series(api, m, b, [CLEAR] * 3)
    await reverse(api, m, done[0])
    await settle(api, DAY)
    api.clock.advance(days=1)
    made = await export(api)
    await series(api, m, b, [CLEAR])
    await settle(api, DAY + timedelta(days=1))
    params = {"from": "2020-05-06", "to": "2020-05-07"}
    _, own = await api.call(
        "GET", "/api/v1/merchant/statement", params=params, headers=m.headers, expect=200
    )
    _, bureau = await api.call(
        "GET", f"/api/v1/admin/merchants/{m.id}/statement", params=params, headers=api.bureau
    )
    assert own == bureau
    day1, day2 = own["items"]
    assert (day1["date"], day1["earned_fen"], day1["reversed_fen"], day1["settled_fen"]) == (
        "2020-05-06",
        6000,
        2000,
        4000,
    )
    assert (day1["unsettled_fen"], day1["payable_fen"]) == (0, 4000)
    assert (day2["paid_out_fen"], day2["references"]) == (
        4000,
        f"HYF-E{made['id']:06d}-{m.id:04d}",
    )
    assert (day2["earned_fen"], day2["settled_fen"], day2["payable_fen"]) == (2000, 2000, 2000)
    status, text = await api.call(
        "GET",
        "/api/v1/merchant/statement",
        params={**params, "format": "csv"},
        headers=m.headers,
    )
    assert status == 200 and csv_body(text).startswith("date,redemptions,earned_fen,reversed_fen")
    other = await shop(api)
    status, body = await api.call(
        "GET", f"/api/v1/admin/merchants/{other.id + 100}/statement", headers=api.bureau
    )
    assert_error(status, body, 404, "not_found")


async def test_verify_fails_on_a_tampered_transfer(api: Api) -> None:
    b = await batch(api)
    m = await shop(api)
    done = await series(api, m, b, [CLEAR] * 2)
    await settle(api, DAY)
    await verified(api)
    intact = await api.cli("ledger", "verify")
    assert intact.returncode == 0 and "ledger balanced" in intact.stdout, intact.stderr
    pool = api.client.app[keys.DB].pool
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("ALTER TABLE transfers DISABLE TRIGGER transfers_append_only")
        await conn.execute(
            "UPDATE transfers SET amount_fen = amount_fen + 100"
            " WHERE kind = 'redemption' AND source = $1",
            str(done[0]["id"]),
        )
        await conn.execute("ALTER TABLE transfers ENABLE TRIGGER transfers_append_only")
    status, body = await api.call("GET", f"{LEDGER}/verify", headers=api.bureau)
    assert status == 409 and body["ok"] is False, body
    problems = "\n".join(body["problems"])
    assert f"redemption {done[0]['id']}" in problems and f"merchant {m.id}" in problems
    broken = await api.cli("ledger", "verify")
    assert broken.returncode == 1 and f"redemption {done[0]['id']}" in broken.stderr
    # The table refuses edits with its trigger on.
    async with pool.acquire() as conn:
        for edit in ("DELETE FROM transfers", "UPDATE transfers SET amount_fen = 1"):
            with pytest.raises(asyncpg.RestrictViolationError, match="append-only"):
                await conn.execute(edit)
        with pytest.raises(asyncpg.RestrictViolationError, match="append-only"):
            await conn.execute("TRUNCATE transfers")


async def _flags(api: Api) -> list[dict[str, Any]]:
    _, found = await api.call("GET", FLAGS, headers=api.bureau, expect=200)
    return list(found["items"])


async def _confirm_and_release(api: Api, flag_id: int, *, clawback: bool) -> dict[str, Any]:
    await api.call(
        "POST",
        f"{FLAGS}/{flag_id}/review",
        json={"decision": "confirm", "note": "刷单"},
        headers=api.bureau,
        expect=200,
    )
    _, released = await api.call(
        "POST",
        f"{FLAGS}/{flag_id}/release",
        json={"clawback": clawback, "note": "追回"},
        headers=api.bureau,
        expect=200,
    )
    return dict(released)


async def test_bad_payment_requests_are_refused(api: Api) -> None:
    for bad in ({"date": "2020-05-06"}, {"x": 1}, [], "x"):
        status, body = await api.call(
            "POST", EXPORTS, json=bad, headers={**api.bureau, "Idempotency-Key": "k1"}
        )
        assert_error(status, body, 400, "invalid_request")
    for headers in ({}, {"Idempotency-Key": ""}, {"Idempotency-Key": "k" * 65}):
        status, body = await api.call("POST", EXPORTS, json={}, headers={**api.bureau, **headers})
        assert_invalid(status, body, "Idempotency-Key")
    _, listed = await api.call("GET", EXPORTS, headers=api.bureau, expect=200)
    assert listed["items"] == []  # nothing was made by any of them
    await assert_queries_invalid(api, EXPORTS, "?limit=0 ?limit=x ?page=2", headers=api.bureau)
    for path in (f"{EXPORTS}/999/file", f"{EXPORTS}/x/file"):
        status, body = await api.call("GET", path, headers=api.bureau)
        assert_error(status, body, 404, "not_found")
    await assert_queries_invalid(
        api,
        f"{LEDGER}/balances",
        "?kind=cash ?merchant_id=x ?merchant_id=0 ?negative=yes ?page=1",
        headers=api.bureau,
    )
    await assert_queries_invalid(
        api,
        f"{LEDGER}/transfers",
        "?kind=gift ?from=2020-13-01 ?to=1999-12-31 ?limit=0 ?page=1",
        headers=api.bureau,
    )
    status, body = await api.call(
        "GET",
        f"{LEDGER}/transfers",
        params={"from": "2020-05-07", "to": "2020-05-06"},
        headers=api.bureau,
    )
    assert_invalid(status, body, "from")
    status, body = await returns(api, "")
    assert_error(status, body, 400, "invalid_request")
    status, body = await api.put_csv(RETURNS, b"reference,status\n\xff\n")
    assert_error(status, body, 400, "invalid_request")
    status, body = await api.put_csv(RETURNS, b"ref,state\nx,paid\n")
    assert_invalid(status, body, "lines")  # the wrong header: line 1
    status, body = await api.call(  # JSON is not a return file: no header line
        "PUT", RETURNS, json={"reference": "x", "status": "paid"}, headers=api.bureau
    )
    assert_invalid(status, body, "lines")
    # A bank account given in part, or malformed, on an existing merchant.
    merchant = await api.merchant()
    mid = merchant.id
    for bad_account, field in (
        ({"account_no": "6222020200112233445"}, "account_no"),  # without its name
        ({"account_name": ACCOUNT["account_name"]}, "account_no"),
        ({**ACCOUNT, "account_no": "6222-0202"}, "account_no"),
        ({**ACCOUNT, "account_no": 6222020200112233445}, "account_no"),
    ):
        status, body = await api.call(
            "PATCH", f"/api/v1/admin/merchants/{mid}", json=bad_account, headers=api.bureau
        )
        assert_invalid(status, body, field, bad_account)
    for role in ("resident", "merchant"):
        who = api.auth(role, mid=1 if role == "merchant" else None)
        for method, path in (
            ("POST", EXPORTS),
            ("GET", EXPORTS),
            ("GET", f"{LEDGER}/balances"),
            ("GET", f"{LEDGER}/transfers"),
            ("GET", f"{LEDGER}/verify"),
            ("GET", f"/api/v1/admin/merchants/{mid}/statement"),
        ):
            status, body = await api.call(
                method,
                path,
                json={} if method == "POST" else None,
                headers={**who, "Idempotency-Key": "k2"},
            )
            assert_error(status, body, 403, "forbidden")
    status, body = await api.call("GET", "/api/v1/merchant/statement", headers=api.bureau)
    assert_error(status, body, 403, "forbidden")
    # Statements: ranges out of order, not dates, out of 2000–2099, too long, unknown fields.
    owner = merchant.headers
    ranges = "?from=2020-05-07&to=2020-05-06 ?from=2020-02-30 ?to=1999-12-31 ?format=xml ?x=1"
    await assert_queries_invalid(api, "/api/v1/merchant/statement", ranges, headers=owner)
    await assert_queries_invalid(
        api, f"/api/v1/admin/merchants/{mid}/statement", ranges, headers=api.bureau
    )
    status, body = await api.call(
        "GET",
        "/api/v1/merchant/statement",
        params={"from": "2019-01-01", "to": "2020-05-06"},
        headers=owner,
    )
    assert_invalid(status, body, "from")  # longer than a request may span
    for path in ("/api/v1/admin/merchants/x/statement", "/api/v1/admin/merchants/0/statement"):
        status, body = await api.call("GET", path, headers=api.bureau)
        assert_error(status, body, 404, "not_found")
    status, body = await api.call("GET", f"{LEDGER}/verify")
    assert_error(status, body, 401, "unauthorized")


async def test_an_account_change_keeping_the_last_four_digits_shows_on_the_trail(
    api: Api,
) -> None:
    """The tester's 5th: **** **** 3445 before and after hid a changed account."""
    created = await api.create_merchant(**ACCOUNT)
    mid = created["merchant"]["id"]
    await with_account(api, mid, "6228480000000003445")  # another bank, same last four
    await api.call(
        "PATCH",
        f"/api/v1/admin/merchants/{mid}",
        json={"address": "济南市槐荫区经十路1号"},
        headers=api.bureau,
        expect=200,
    )
    _, trail = await api.call(
        "GET", "/api/v1/admin/audit", params={"object": f"merchants/{mid}"}, headers=api.bureau
    )
    moved, changed, made = trail["items"]  # newest first
    assert made["action"] == "merchant.create" and changed["action"] == "merchant.update"
    assert changed["before"]["account_no"] == changed["after"]["account_no"] == "**** **** 3445"
    assert changed["before"]["account_no_hmac"] != changed["after"]["account_no_hmac"]
    assert made["after"]["account_no_hmac"] == changed["before"]["account_no_hmac"]
    assert moved["before"]["account_no_hmac"] == moved["after"]["account_no_hmac"]
    assert len(made["after"]["account_no_hmac"]) == 16
    assert "6222020200112233445" not in str(trail) and "6228480000000003445" not in str(trail)
