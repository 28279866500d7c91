"""Cash-out (套现) risk over HTTP: the four rules of API.md at their default thresholds, each
just over and just under; flags never raised twice; ratio flags provisional on part of a day;
review, holds (derived from the flags) and the release with a clawback from payable."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from jobs.registry import BY_NAME
from jobs.runner import JobRunner
from service import keys
from service.clock import FixedClock
from tests.conftest import Api, assert_error, assert_invalid, assert_queries_invalid
from tests.support.downloads import csv_body
from tests.support.money import balances, export, file_rows, verified, with_account
from tests.support.shops import (
    CLEAR,
    DAY,
    FLAGS,
    HUG,
    Shop,
    batch,
    night_after,
    redeem,
    reverse,
    scan,
    series,
    settle,
    shop,
)


async def flags(api: Api, **query: Any) -> list[dict[str, Any]]:
    _, body = await api.call("GET", FLAGS, params=query, headers=api.bureau, expect=200)
    return list(body["items"])


def rules_of(found: list[dict[str, Any]], merchant: Shop) -> list[str]:
    return sorted(f["rule"] for f in found if f["merchant_id"] == merchant.id)


async def test_threshold_hugging_at_twenty_redemptions_and_sixty_percent(api: Api) -> None:
    b = await batch(api)
    hugger, near_miss, too_few = await shop(api), await shop(api), await shop(api)
    hugging = await series(api, hugger, b, [HUG] * 12 + [CLEAR] * 8)  # 60%: flagged
    await series(api, near_miss, b, [HUG] * 11 + [CLEAR] * 9)  # 55%
    await series(api, too_few, b, [HUG] * 19)  # all hugging, but 19
    await scan(api)
    found = await flags(api)
    assert [(f["merchant_id"], f["rule"]) for f in found] == [(hugger.id, "threshold_hugging")]
    (flag,) = found
    evidence = flag["evidence"]
    assert evidence["redemption_ids"] == [r["id"] for r in hugging[:12]]
    assert (evidence["redemptions"], evidence["hugging"], evidence["share"]) == (20, 12, 0.6)
    assert evidence["order_fen"] == 12 * HUG and evidence["discount_fen"] == 12 * 2000
    assert (flag["status"], flag["date"], flag["score"]) == ("open", "2020-05-06", 0.6)
    await scan(api)  # the same day again: nothing twice
    assert [f["id"] for f in await flags(api)] == [flag["id"]]


async def test_repeat_pair_three_vouchers_of_one_person_within_seven_days(api: Api) -> None:
    b = await batch(api, per_resident_limit=5)
    regular, other = await shop(api), await shop(api)
    api.clock.advance(days=-1)
    first = await redeem(api, regular, b, "alice", CLEAR)
    api.clock.advance(days=1)
    second = await redeem(api, regular, b, "alice", CLEAR)
    await redeem(api, other, b, "alice", CLEAR)  # another merchant: not the same pair
    await redeem(api, regular, b, "bob", CLEAR)
    await redeem(api, regular, b, "bob", CLEAR)  # two only
    await scan(api)
    assert await flags(api) == []
    third = await redeem(api, regular, b, "alice", CLEAR)
    await scan(api)
    (flag,) = await flags(api)
    assert (flag["rule"], flag["merchant_id"], flag["subject"]) == (
        "repeat_pair",
        regular.id,
        "r:alice",
    )
    assert flag["evidence"]["redemption_ids"] == [first["id"], second["id"], third["id"]]
    assert flag["evidence"]["vouchers"] == 3
    # A fourth the next day is the same pair in the same span: no second flag.
    api.clock.advance(days=1)
    await redeem(api, regular, b, "alice", CLEAR)
    await scan(api, DAY + timedelta(days=1))
    assert len(await flags(api)) == 1


async def test_burst_against_the_merchants_own_history(api: Api) -> None:
    b = await batch(api)
    steady, burster, spread = await shop(api), await shop(api), await shop(api)
    # The day before: steady sells 4 per 10 minutes for an hour (its median window is 4).
    api.clock.advance(days=-1)
    await series(api, steady, b, [CLEAR] * 24, every_minutes=2.5)
    api.clock.advance(days=1)
    # Today: steady does 19 in 9 minutes (over 20? no) and burster 20 in 9.5 minutes.
    await series(api, steady, b, [CLEAR] * 19, every_minutes=0.5)
    burst = await series(api, burster, b, [CLEAR] * 20, every_minutes=0.5)
    await series(api, spread, b, [CLEAR] * 25, every_minutes=1.1)  # never 20 in 10 minutes
    await scan(api)
    found = await flags(api)
    assert [(f["merchant_id"], f["rule"]) for f in found] == [(burster.id, "burst")]
    evidence = found[0]["evidence"]
    assert evidence["redemption_ids"] == [r["id"] for r in burst]
    assert evidence["redemptions"] == 20 and evidence["window_minutes"] == 10
    # What the reviewer's chart shows: two weeks of days, and the day's 10-minute windows.
    _, timeline = await api.call(
        "GET", f"{FLAGS}/{found[0]['id']}/timeline", headers=api.bureau, expect=200
    )
    assert len(timeline["days"]) == 14 and timeline["days"][-1]["date"] == "2020-05-06"
    assert [d["redemptions"] for d in timeline["days"][-2:]] == [0, 20]
    assert sum(w["redemptions"] for w in timeline["windows"]) == 20
    assert max(w["redemptions"] for w in timeline["windows"]) >= 10
    # And the evidence as orders (issue 25: bare ids told the reviewer nothing).
    orders = timeline["redemptions"]
    assert [o["id"] for o in orders] == evidence["redemption_ids"]
    assert [(o["voucher_code"], o["order_ref"]) for o in orders] == [
        (r["code"], r["order_ref"]) for r in burst
    ]
    assert {o["order_amount_fen"] for o in orders} == {CLEAR}
    assert all(o["status"] == "completed" and o["batch_title"] for o in orders)


async def test_a_burst_far_above_a_busy_history_is_flagged_and_one_near_it_is_not(api: Api) -> None:
    b = await batch(api, quantity=1000)
    busy, spike = await shop(api), await shop(api)
    api.clock.advance(days=-1)
    await series(api, busy, b, [CLEAR] * 36, every_minutes=1.6)  # 6 or 7 per window
    await series(api, spike, b, [CLEAR] * 12, every_minutes=10)  # 1 per window
    api.clock.advance(days=1)
    await series(api, busy, b, [CLEAR] * 21, every_minutes=0.45)  # 21 < 5 × 6
    await series(api, spike, b, [CLEAR] * 21, every_minutes=0.45)  # 21 ≥ 5 × 1
    await scan(api)
    found = await flags(api)
    assert [(f["merchant_id"], f["rule"]) for f in found] == [(spike.id, "burst")]
    assert found[0]["evidence"]["median"] == 1 and found[0]["evidence"]["history"] is True


async def test_reversal_churn_at_ten_redemptions_and_twenty_percent(api: Api) -> None:
    b = await batch(api)
    churner, calm = await shop(api), await shop(api)
    mine = await series(api, churner, b, [CLEAR] * 10)
    theirs = await series(api, calm, b, [CLEAR] * 11)
    for r in mine[:2]:
        await reverse(api, churner, r)
    await reverse(api, calm, theirs[0])  # 1 of 11
    await scan(api)
    (flag,) = await flags(api)
    assert (flag["merchant_id"], flag["rule"]) == (churner.id, "reversal_churn")
    assert flag["evidence"]["redemption_ids"] == [mine[0]["id"], mine[1]["id"]]
    assert (flag["evidence"]["reversed"], flag["evidence"]["share"]) == (2, 0.2)


async def test_review_hold_release_and_clawback(api: Api) -> None:
    b = await batch(api)
    cheat, honest = await shop(api), await shop(api)
    await with_account(api, cheat.id, "6222020200112233445")
    await with_account(api, honest.id, "6217000010001234567")
    redeemed = await series(api, cheat, b, [HUG] * 20)
    await series(api, honest, b, [CLEAR] * 3)
    await scan(api)
    (flag,) = await flags(api, status="open")
    await settle(api, DAY)
    assert (await balances(api, cheat.id))["payable"] == 40_000

    review = f"{FLAGS}/{flag['id']}/review"
    assert_invalid(
        *await api.call(
            "POST", review, json={"decision": "maybe", "note": "?"}, headers=api.bureau
        ),
        "decision",
    )
    status, body = await api.call(
        "POST",
        f"{FLAGS}/999999/review",
        json={"decision": "confirm", "note": "x"},
        headers=api.bureau,
    )
    assert_error(status, body, 404, "not_found")
    headers = api.auth("bureau", "wang.fang")
    _, reviewed = await api.call(
        "POST",
        review,
        json={"decision": "confirm", "note": "凑单套现"},
        headers=headers,
        expect=200,
    )
    assert (reviewed["status"], reviewed["reviewed_by"], reviewed["note"]) == (
        "confirmed",
        "wang.fang",
        "凑单套现",
    )
    status, body = await api.call(
        "POST", review, json={"decision": "dismiss", "note": "again"}, headers=api.bureau
    )
    assert_error(status, body, 409, "already_reviewed")

    # The hold is the flag: the export pays the honest merchant and leaves the cheat out.
    made = await export(api)
    assert [r["merchant_id"] for r in await file_rows(api, made["id"])] == [str(honest.id)]
    assert made["left_out"] == [{"merchant_id": cheat.id, "reason": "held", "balance_fen": 40_000}]
    # Money settled while the hold stands is held too.
    api.clock.advance(days=1)
    await series(api, cheat, b, [CLEAR])
    await settle(api, DAY + timedelta(days=1))
    assert (await balances(api, cheat.id))["payable"] == 42_000
    assert (await export(api))["rows"] == 0

    release = f"{FLAGS}/{flag['id']}/release"
    _, released = await api.call(
        "POST", release, json={"clawback": True, "note": "追回补贴"}, headers=headers, expect=200
    )
    assert released["clawed_back_fen"] == 20 * 2000
    assert released["clawed_back_redemptions"] == 20 and released["still_held"] is False
    assert released["flag"]["released_by"] == "wang.fang"
    status, body = await api.call(
        "POST", release, json={"clawback": True, "note": "twice"}, headers=api.bureau
    )
    assert_error(status, body, 409, "conflict")
    # The clawback left what the cheat earned since: the next bank file pays exactly that.
    assert (await balances(api, cheat.id))["payable"] == 2000
    paid = await export(api)
    (row,) = await file_rows(api, paid["id"])
    assert (row["merchant_id"], row["amount_yuan"]) == (str(cheat.id), "20.00")
    assert {r["id"] for r in redeemed} == set(flag["evidence"]["redemption_ids"])
    trail = await api.audit(object=f"risk_flags/{flag['id']}")
    assert [e["action"] for e in trail] == ["risk.release", "risk.review"]
    assert trail[0]["after"]["clawed_back_fen"] == 40_000
    await verified(api)


async def test_dismissing_holds_nothing(api: Api) -> None:
    b = await batch(api)
    churner = await shop(api)
    await with_account(api, churner.id, "6222020200112233445")
    for r in (await series(api, churner, b, [CLEAR] * 10))[:3]:
        await reverse(api, churner, r)
    await scan(api)
    (flag,) = await flags(api)
    await settle(api, DAY)
    _, dismissed = await api.call(
        "POST",
        f"{FLAGS}/{flag['id']}/review",
        json={"decision": "dismiss", "note": "顾客集体退货，已核实"},
        headers=api.bureau,
        expect=200,
    )
    assert dismissed["status"] == "dismissed"
    made = await export(api)
    assert (made["rows"], made["total_fen"], made["left_out"]) == (1, 7 * 2000, [])
    assert await flags(api, status="open") == []
    assert [f["id"] for f in await flags(api, status="dismissed", merchant_id=churner.id)] == [
        flag["id"]
    ]
    status, csv = await api.call("GET", FLAGS, params={"format": "csv"}, headers=api.bureau)
    assert status == 200 and csv_body(csv).startswith("id,merchant_id,merchant_name,rule,date")


async def test_ratio_flags_are_provisional_until_the_full_day_decides(api: Api) -> None:
    """A morning's ratio is no verdict: the intraday scan's hugging and churn flags are
    provisional (not reviewable); the full day makes them open or withdraws them."""
    b = await batch(api)
    keeps, fades, churns = await shop(api), await shop(api), await shop(api)
    await series(api, keeps, b, [HUG] * 20)
    await series(api, fades, b, [HUG] * 12 + [CLEAR] * 8)  # 60% by noon
    for r in (await series(api, churns, b, [CLEAR] * 10))[:2]:
        await reverse(api, churns, r)  # 20% by noon
    await scan(api, intraday=True)
    morning = {f["merchant_id"]: f for f in await flags(api)}
    assert {m: f["status"] for m, f in morning.items()} == {
        keeps.id: "provisional",
        fades.id: "provisional",
        churns.id: "provisional",
    }
    for flag in morning.values():
        status, body = await api.call(
            "POST",
            f"{FLAGS}/{flag['id']}/review",
            json={"decision": "confirm", "note": "上午看着像"},
            headers=api.bureau,
        )
        assert_error(status, body, 409, "flag_provisional")
    # The afternoon dilutes two of them.
    await series(api, fades, b, [CLEAR] * 10)
    await series(api, churns, b, [CLEAR] * 5)
    await scan(api)
    evening = {f["merchant_id"]: f for f in await flags(api)}
    assert {m: f["status"] for m, f in evening.items()} == {
        keeps.id: "open",
        fades.id: "withdrawn",
        churns.id: "withdrawn",
    }
    assert evening[keeps.id]["id"] == morning[keeps.id]["id"]
    status, body = await api.call(
        "POST",
        f"{FLAGS}/{evening[fades.id]['id']}/review",
        json={"decision": "confirm", "note": "x"},
        headers=api.bureau,
    )
    assert_error(status, body, 409, "flag_withdrawn")
    assert [f["id"] for f in await flags(api, status="withdrawn")] == sorted(
        (evening[fades.id]["id"], evening[churns.id]["id"]), reverse=True
    )
    await api.call(
        "POST",
        f"{FLAGS}/{evening[keeps.id]['id']}/review",
        json={"decision": "confirm", "note": "全天仍然凑单"},
        headers=api.bureau,
        expect=200,
    )


async def test_count_flags_are_open_at_once(api: Api) -> None:
    b = await batch(api)
    burster = await shop(api)
    await series(api, burster, b, [CLEAR] * 20, every_minutes=0.5)
    await scan(api, intraday=True)
    (flag,) = await flags(api)
    assert (flag["rule"], flag["status"]) == ("burst", "open")


async def test_any_money_value_is_scanned(api: Api) -> None:
    """min_spend × (100 + margin) once overflowed int4 and stopped the whole scan."""
    largest = 1_000_000_000  # the largest money value a batch accepts
    b = await batch(api, face_value_fen=100_000, min_spend_fen=largest)
    hugger = await shop(api)
    await series(api, hugger, b, [largest] * 20)
    await scan(api)
    (flag,) = await flags(api)
    assert (flag["rule"], flag["evidence"]["hugging"]) == ("threshold_hugging", 20)


async def test_one_rule_failing_never_stops_the_others(api: Api) -> None:
    from service.db import Database
    from service.domain import risk
    from service.settings import RiskRules

    b = await batch(api)
    hugger = await shop(api)
    await series(api, hugger, b, [HUG] * 20)
    # A window so long that its first day is before any date: repeat_pair's statement fails.
    broken = RiskRules(repeat_window_days=10**8)
    db: Database = api.client.app[keys.DB]
    async with db.transaction() as tx:
        scanned = await risk.scan(tx, DAY, now=api.clock.now(), rules=broken, full_day=True)
    assert [f.split(":")[0] for f in scanned.failures] == ["repeat_pair"]
    assert [(f["rule"], f["status"]) for f in await flags(api)] == [("threshold_hugging", "open")]
    # Through the job: the run is failed with the rule's error, the other rules' flags kept.
    app = api.client.app
    runner = JobRunner(
        app[keys.DB], FixedClock(night_after(api, DAY, 40)), tz=api.settings.tz, risk=broken
    )
    result = await runner.run_day(BY_NAME["risk_scan"], DAY, force=True)
    assert result.outcome == "failed" and result.error and "repeat_pair" in result.error
    assert result.rows == 1
    _, jobs = await api.call("GET", "/api/v1/admin/jobs", headers=api.bureau, expect=200)
    (run,) = [j["last_run"] for j in jobs if j["name"] == "risk_scan"]
    assert run["status"] == "failed" and "repeat_pair" in run["error"]


def test_each_threshold_is_a_setting() -> None:
    from service.settings import RiskRules, Settings

    rules = RiskRules.from_env(
        {"FESTIVAL_RISK_HUG_SHARE_PCT": "70", "FESTIVAL_RISK_BURST_MINUTES": "15"}
    )
    assert (rules.hug_share_pct, rules.burst_minutes) == (70, 15)
    assert rules.repeat_min_vouchers == 3 and rules.churn_share_pct == 20  # API.md's defaults
    settings = Settings.from_env(
        {"FESTIVAL_JWT_SECRET": "s" * 40, "FESTIVAL_RISK_REPEAT_MIN_VOUCHERS": "4"}
    )
    assert settings.risk.repeat_min_vouchers == 4


async def test_bad_flag_queries_and_releases_are_400(api: Api) -> None:
    await assert_queries_invalid(
        api,
        FLAGS,
        "?status=closed ?rule=fraud ?merchant_id=x ?merchant_id=0 ?limit=9999",
        headers=api.bureau,
    )
    for path in (f"{FLAGS}/1/review", f"{FLAGS}/1/release"):
        status, body = await api.call("POST", path, json={"note": "x"}, headers=api.bureau)
        assert_error(status, body, 400, "invalid_request")
    status, body = await api.call(
        "POST", f"{FLAGS}/1/release", json={"clawback": "yes", "note": "x"}, headers=api.bureau
    )
    assert_invalid(status, body, "clawback")
    status, body = await api.call(
        "POST", f"{FLAGS}/999/release", json={"clawback": False, "note": "x"}, headers=api.bureau
    )
    assert_error(status, body, 404, "not_found")
    status, body = await api.call("GET", f"{FLAGS}/999/timeline", headers=api.bureau)
    assert_error(status, body, 404, "not_found")
    await assert_queries_invalid(api, FLAGS, "?page=2", headers=api.bureau)  # unknown
    bodies = (
        ("review", {"decision": "confirm", "note": "x", "extra": 1}, "extra"),
        ("review", {"decision": "confirm", "note": 5}, "note"),
        ("review", {"decision": "confirm"}, "note"),
        ("release", {"clawback": False, "note": "x", "extra": 1}, "extra"),
    )
    for action, bad, field in bodies:
        status, body = await api.call("POST", f"{FLAGS}/1/{action}", json=bad, headers=api.bureau)
        assert_invalid(status, body, field, bad)
    valid = {"review": {"decision": "confirm", "note": "x"}, "release": {"clawback": False}}
    for action, good in valid.items():  # an id that is not one
        status, body = await api.call(
            "POST", f"{FLAGS}/x1/{action}", json={**good, "note": "x"}, headers=api.bureau
        )
        assert_error(status, body, 404, "not_found")
