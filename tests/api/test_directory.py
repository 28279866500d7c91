"""Where to spend (API.md, "Where to spend, joining…"): the public merchant directory, and the
place fields (街道, position, hours) the bureau sets on merchants."""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import replace
from datetime import datetime, time, timedelta
from typing import Any
from urllib.parse import quote

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service import keys
from service.app import create_app
from service.settings import Settings
from service.sms import CapturingSmsSender
from tests.conftest import Api, assert_error, assert_invalid, assert_queries_invalid
from tests.support.drill import move
from tests.support.places import haversine_m

DIRECTORY = "/api/v1/merchants"
MERCHANTS = "/api/v1/admin/merchants"
# Huaiyin district: the 匡山 and 段店 ends of it, and a point between.
KUANGSHAN = (36.6905, 116.9338)
DUANDIAN = (36.6528, 116.9612)
HOME = (36.6650, 116.9500)


async def place(api: Api, name: str, **fields: Any) -> int:
    created = await api.create_merchant(name=name, **fields)
    return int(created["merchant"]["id"])


async def listed(api: Api, query: str = "", **kw: Any) -> dict[str, Any]:
    _, body = await api.call("GET", DIRECTORY + query, expect=200, **kw)
    return dict(body)


async def walk(api: Api, query: str) -> list[dict[str, Any]]:
    """Every item of the directory for `query` (which sets a small limit), page by page."""
    items: list[dict[str, Any]] = []
    page = await listed(api, query)
    for _ in range(1000):
        items += page["items"]
        if page["next_cursor"] is None:
            return items
        page = await listed(api, f"{query}&cursor={quote(page['next_cursor'])}")
    raise AssertionError("the cursor never ended")


# --- the place fields ---------------------------------------------------------------------


async def test_the_bureau_sets_street_position_and_hours_and_sees_them(api: Api) -> None:
    created = await api.create_merchant(
        street="五里沟街道", lat=36.672_123_4, lng=116.971_5, hours="22:00-02:00"
    )
    merchant = created["merchant"]
    assert (merchant["street"], merchant["lat"], merchant["lng"], merchant["hours"]) == (
        "五里沟街道",
        36.672123,  # kept to 6 decimals (0.1 m)
        116.9715,
        "22:00-02:00",
    )
    mid = merchant["id"]
    _, one = await api.call("GET", f"{MERCHANTS}/{mid}", headers=api.bureau, expect=200)
    assert (one["street"], one["lat"], one["lng"], one["hours"]) == (
        "五里沟街道",
        36.672123,
        116.9715,
        "22:00-02:00",
    )
    _, patched = await api.call(
        "PATCH",
        f"{MERCHANTS}/{mid}",
        json={"street": "道德街街道", "hours": "10:00-24:00"},
        headers=api.bureau,
        expect=200,
    )
    assert (patched["street"], patched["lat"], patched["hours"]) == (
        "道德街街道",
        36.672123,
        "10:00-24:00",
    )
    # null removes the position and the hours (unknown), and nothing else.
    _, patched = await api.call(
        "PATCH",
        f"{MERCHANTS}/{mid}",
        json={"lat": None, "lng": None, "hours": None},
        headers=api.bureau,
        expect=200,
    )
    assert (patched["street"], patched["lat"], patched["lng"], patched["hours"]) == (
        "道德街街道",
        None,
        None,
        None,
    )
    entries = await api.audit(action="merchant.update")
    assert entries[0]["after"]["hours"] is None and entries[-1]["after"]["hours"] == "10:00-24:00"


@pytest.mark.parametrize(
    ("fields", "bad"),
    [
        ({"lat": 90.5, "lng": 117.0}, "lat"),
        ({"lat": -91, "lng": 117.0}, "lat"),
        ({"lat": 36.6, "lng": 180.01}, "lng"),
        ({"lat": 36.6, "lng": -181}, "lng"),
        ({"lat": "36.6", "lng": 117.0}, "lat"),
        ({"lat": True, "lng": 117.0}, "lat"),
        ({"lat": 10**400, "lng": 117.0}, "lat"),
        ({"lat": 36.6}, "lng"),
        ({"lng": 117.0}, "lng"),
        ({"hours": "25:00-26:00"}, "hours"),
        ({"hours": "12:00-12:00"}, "hours"),
        ({"hours": "24:00-02:00"}, "hours"),
        ({"hours": "9:00-21:00"}, "hours"),
        ({"hours": "09:00-21:60"}, "hours"),
        ({"hours": "09:00-21:00\n"}, "hours"),
        ({"hours": "０９:00-21:00"}, "hours"),
        ({"street": "   "}, "street"),
        ({"street": "街" * 51}, "street"),
    ],
)
async def test_bad_place_fields_are_400_and_store_nothing(
    api: Api, fields: dict[str, Any], bad: str
) -> None:
    from tests.support.factories import merchant_body

    status, body = await api.call(
        "POST", MERCHANTS, json=merchant_body(**fields), headers=api.bureau
    )
    assert_invalid(status, body, bad, fields)
    mid = await place(api, "好再来饭店", street="营市街街道")
    status, body = await api.call("PATCH", f"{MERCHANTS}/{mid}", json=fields, headers=api.bureau)
    assert_invalid(status, body, bad, fields)
    _, one = await api.call("GET", f"{MERCHANTS}/{mid}", headers=api.bureau, expect=200)
    assert one["street"] == "营市街街道" and one["lat"] is None and one["hours"] is None


async def test_a_nan_or_infinite_coordinate_is_400(api: Api) -> None:
    from tests.support.factories import merchant_body

    for raw in ("NaN", "Infinity", "-Infinity", "1e400"):
        text = json.dumps(merchant_body(lng=117.0)).replace(
            '"lng": 117.0', f'"lat": {raw}, "lng": 117.0'
        )
        status, body = await api.call(
            "POST",
            MERCHANTS,
            data=text,
            headers={**api.bureau, "Content-Type": "application/json"},
        )
        assert status == 400, (raw, body)


# --- the directory ------------------------------------------------------------------------


async def test_the_directory_is_public_active_only_and_by_street_then_name(api: Api) -> None:
    b = await place(api, "乙店", street="五里沟街道")
    a = await place(api, "甲店", street="五里沟街道", lat=KUANGSHAN[0], lng=KUANGSHAN[1])
    c = await place(api, "丙店", street="道德街街道", hours="09:00-21:00")
    nowhere = await place(api, "无街道的店")
    gone = await place(api, "已暂停的店", street="五里沟街道")
    await api.call(
        "PATCH", f"{MERCHANTS}/{gone}", json={"status": "suspended"}, headers=api.bureau, expect=200
    )
    resp = await api.client.get(DIRECTORY)  # no token
    assert resp.status == 200
    assert resp.headers["Cache-Control"] == "public, max-age=60"
    body = await resp.json()
    assert body["next_cursor"] is None
    items = body["items"]
    # Streets in the database's text order, names within a street; no street last; suspended
    # never.
    ids = {"甲店": a, "乙店": b}
    expected = []
    for street in await text_order(api, ["五里沟街道", "道德街街道"]):
        if street == "道德街街道":
            expected.append(c)
        else:
            expected += [ids[name] for name in await text_order(api, ["甲店", "乙店"])]
    assert [i["id"] for i in items] == [*expected, nowhere]
    first = next(i for i in items if i["id"] == a)
    assert first == {
        "id": a,
        "name": "甲店",
        "category": "shopping",
        "address": "济南市槐荫区经十路与腊山河西路交叉口",
        "street": "五里沟街道",
        "lat": KUANGSHAN[0],
        "lng": KUANGSHAN[1],
        "hours": None,
        "distance_m": None,
    }
    # Nothing personal or financial: no phone, credit code, account or status.
    text = json.dumps(body, ensure_ascii=False)
    for secret in ("138", "contact_phone", "credit_code", "account", "api_key", "status"):
        assert secret not in text, secret


async def text_order(api: Api, names: list[str]) -> list[str]:
    """`names` as the database sorts text (its collation decides Chinese order)."""
    conn = await asyncpg.connect(api.settings.database_url)
    try:
        return [
            r[0] for r in await conn.fetch("SELECT n FROM unnest($1::text[]) n ORDER BY n", names)
        ]
    finally:
        await conn.close()


async def test_filters_by_category_street_and_name(api: Api) -> None:
    shop = await place(api, "100%纯果汁店", street="西市场街道")
    under = await place(api, "A_B超市", street="西市场街道")
    books = await place(api, "槐荫书店", street="青年公园街道")
    diner = await place(api, "草包包子铺", category="dining", street="西市场街道")

    async def ids(query: str) -> set[int]:
        return {i["id"] for i in (await listed(api, query))["items"]}

    assert await ids("?category=dining") == {diner}
    assert await ids("?category=shopping") == {shop, under, books}
    assert await ids(f"?street={quote('西市场街道')}") == {shop, under, diner}
    assert await ids(f"?street={quote('西市场')}") == set()  # the street exactly
    # LIKE's wildcards are matched as themselves; case does not matter.
    assert await ids("?q=%25") == {shop}
    assert await ids("?q=_") == {under}
    assert await ids("?q=a_b") == {under}
    assert await ids("?q=%5C") == set()
    assert await ids(f"?q={quote('书店')}") == {books}
    assert await ids(f"?q={quote('店')}&street={quote('西市场街道')}&category=shopping") == {shop}


async def test_batch_id_lists_where_its_vouchers_can_be_used(api: Api) -> None:
    one = await place(api, "一号店", category="dining", street="匡山街道")
    two = await place(api, "二号店", category="dining", street="匡山街道")
    await place(api, "购物店", category="shopping", street="匡山街道")
    dining = await api.create_batch(category="dining", face_value_fen=1000, min_spend_fen=5000)
    listed_only = await api.create_batch(
        category="dining", face_value_fen=1000, min_spend_fen=5000, merchant_ids=[two]
    )

    async def ids(query: str) -> list[int]:
        return [i["id"] for i in (await listed(api, query))["items"]]

    assert sorted(await ids(f"?batch_id={dining['id']}")) == sorted([one, two])
    assert await ids(f"?batch_id={listed_only['id']}") == [two]
    assert await ids(f"?batch_id={listed_only['id']}&category=shopping") == []
    status, body = await api.call("GET", f"{DIRECTORY}?batch_id=999999")
    assert_error(status, body, 404, "not_found")


async def test_near_sorts_by_great_circle_distance_then_the_unplaced(api: Api) -> None:
    far = await place(api, "匡山店", street="匡山街道", lat=KUANGSHAN[0], lng=KUANGSHAN[1])
    near = await place(api, "段店店", street="段店北路街道", lat=DUANDIAN[0], lng=DUANDIAN[1])
    unplaced = await place(api, "未定位的店", street="张庄路街道")
    body = await listed(api, f"?near={HOME[0]},{HOME[1]}")
    assert [i["id"] for i in body["items"]] == [near, far, unplaced]
    distances = [i["distance_m"] for i in body["items"]]
    assert distances[0] == round(haversine_m(HOME, DUANDIAN))
    assert distances[1] == round(haversine_m(HOME, KUANGSHAN))
    assert distances[2] is None
    assert 1500 < distances[0] < distances[1] < 4000
    # Page by page, the same order.
    items = await walk(api, f"?near={HOME[0]},{HOME[1]}&limit=1")
    assert [i["id"] for i in items] == [near, far, unplaced]


async def test_a_far_away_query_point_widens_the_box_until_it_finds_them(api: Api) -> None:
    here = await place(api, "槐荫店", lat=KUANGSHAN[0], lng=KUANGSHAN[1])
    # From the far side of the Earth (and across the antimeridian), Jinan is still found.
    for near in ("-36.69,-63.07", "89.999,0", "-90,180", "0,-180"):
        body = await listed(api, f"?near={near}")
        lat, lng = (float(x) for x in near.split(","))
        assert [i["id"] for i in body["items"]] == [here], near
        assert abs(body["items"][0]["distance_m"] - haversine_m((lat, lng), KUANGSHAN)) <= 1


@pytest.mark.parametrize(
    ("near", "nearest", "others"),
    [
        # Across the antimeridian: 55 m east of it beats 111 m and 11 km west of it.
        ((0.0, 180.0), (0.0, -179.9995), [(0.0, 179.999), (0.0, 179.9)]),
        ((0.0, -180.0), (0.0, 179.9995), [(0.0, -179.999), (0.0, -179.9)]),
        # Across the pole: 22 m over it beats 1.1 km on this side.
        ((89.9999, 0.0), (89.9999, 180.0), [(89.99, 0.0), (89.9, 0.0)]),
    ],
)
async def test_the_nearest_is_found_across_the_antimeridian_and_a_pole(
    api: Api,
    near: tuple[float, float],
    nearest: tuple[float, float],
    others: list[tuple[float, float]],
) -> None:
    ids = [await place(api, f"店{n}", lat=p[0], lng=p[1]) for n, p in enumerate(others)]
    first = await place(api, "最近的店", lat=nearest[0], lng=nearest[1])
    body = await listed(api, f"?near={near[0]},{near[1]}&limit=1")
    assert [i["id"] for i in body["items"]] == [first]
    assert [i["id"] for i in await walk(api, f"?near={near[0]},{near[1]}&limit=1")] == [first, *ids]


async def test_cursors_walk_every_merchant_once(api: Api) -> None:
    made = [
        await place(
            api, f"店{n:02d}", street=f"{'甲乙丙'[n % 3]}街道", lat=36.66 + n / 1000, lng=116.95
        )
        for n in range(7)
    ]
    made.append(await place(api, "无位置店"))
    for query in ("", "&near=36.66,116.95", "&near=36.70,116.95", "&near=-36,-63"):
        whole = (await listed(api, "?limit=100" + query))["items"]
        assert sorted(i["id"] for i in whole) == sorted(made), query
        for limit in (1, 2, 3):
            items = await walk(api, f"?limit={limit}{query}")
            assert [i["id"] for i in items] == [i["id"] for i in whole], (limit, query)


async def test_a_bad_or_foreign_cursor_is_400(api: Api) -> None:
    for n in range(3):
        await place(api, f"店{n}", street="美里湖街道", lat=36.70, lng=116.90 + n / 100)
    page = await listed(api, "?limit=1&near=36.7,116.9")
    cursor = page["next_cursor"]
    assert cursor
    payload, mac = cursor.split(".")
    forged = [
        "garbage",
        cursor + "x",
        payload + "." + mac[::-1],
        payload[:-2] + "AA." + mac,
        "%E4%B8%AD." + mac,
        ".",
    ]
    for bad in forged:
        status, body = await api.call(
            "GET", f"{DIRECTORY}?limit=1&near=36.7,116.9&cursor={quote(bad, safe='%')}"
        )
        assert_invalid(status, body, "cursor", bad)
    # Another query's cursor: refused, not read from an arbitrary place.
    for other in (
        "?limit=1&near=36.7,116.91",
        "?limit=1",
        "?limit=1&near=36.7,116.9&open_now=true",
    ):
        status, body = await api.call("GET", f"{DIRECTORY}{other}&cursor={quote(cursor)}")
        assert_invalid(status, body, "cursor", other)
    # A different page size is the same query: the cursor goes on.
    await listed(api, f"?limit=2&near=36.7,116.9&cursor={quote(cursor)}")


async def test_bad_queries_are_400(api: Api) -> None:
    await assert_queries_invalid(
        api,
        DIRECTORY,
        "?near=abc ?near=36.6 ?near=91,116 ?near=-90.5,116 ?near=36.6,181 ?near=36.6,-180.1"
        " ?near=36.6,116,1 ?near=36.6%2C%20116 ?near=%EF%BC%93%EF%BC%96,116 ?near=1e1,2"
        " ?limit=0 ?limit=101 ?limit=abc ?limit=-1 ?open_now=yes ?open_now=1 ?category=food"
        " ?batch_id=0 ?batch_id=abc ?cursor= ?q= ?street=",
    )
    status, body = await api.call("GET", f"{DIRECTORY}?q={'店' * 51}")
    assert_invalid(status, body, "q")
    status, body = await api.call("GET", f"{DIRECTORY}?q=%00")
    assert_invalid(status, body, "q")
    # Refusals are not cached like the directory.
    resp = await api.client.get(f"{DIRECTORY}?limit=0")
    assert resp.headers["Cache-Control"] == "no-store"


# --- open now --------------------------------------------------------------------------------


def beijing(api: Api, day: int, hour: int, minute: int) -> datetime:
    return datetime(2020, 5, day, hour, minute, tzinfo=api.settings.tz)


async def test_open_now_by_the_festival_clock_across_midnight(api: Api) -> None:
    day = await place(api, "白天店", hours="10:00-21:00")
    night = await place(api, "夜宵店", hours="22:00-02:00")
    always = await place(api, "全天店", hours="00:00-24:00")
    late = await place(api, "晚场店", hours="08:00-24:00")
    await place(api, "不详店")
    expected = {
        (6, 9, 59): {always, late},
        (6, 10, 0): {day, always, late},
        (6, 20, 59): {day, always, late},
        (6, 21, 0): {always, late},
        (6, 22, 0): {night, always, late},
        (6, 23, 59): {night, always, late},
        (7, 0, 0): {night, always},
        (7, 1, 59): {night, always},
        (7, 2, 0): {always},
        (7, 7, 59): {always},
        (7, 8, 0): {always, late},
    }
    for (d, h, m), open_ids in expected.items():
        api.clock.at = beijing(api, d, h, m)
        body = await listed(api, "?open_now=true")
        assert {i["id"] for i in body["items"]} == open_ids, (d, h, m)
        everyone = await listed(api, "?open_now=false")
        assert len(everyone["items"]) == 5


@pytest.fixture
async def drill(settings: Settings, sms: CapturingSmsSender, aiohttp_client: Any) -> Api:
    """The app in a drill (演练): its clock is the drill clock the bureau moves."""
    app = create_app(settings=replace(settings, drill=True), sms=sms)
    client = await aiohttp_client(app)
    return Api(client, app[keys.SETTINGS], app[keys.CLOCK], sms)  # type: ignore[arg-type]


async def test_open_now_follows_the_drill_clock_across_midnight(drill: Api) -> None:
    day = await place(drill, "白天店", hours="10:00-21:00")
    night = await place(drill, "夜宵店", hours="22:00-02:00")
    tomorrow = (datetime.now(drill.settings.tz) + timedelta(days=1)).date()
    for days, hour, minute, open_ids in (
        (0, 11, 30, {day}),
        (0, 23, 30, {night}),
        (1, 1, 30, {night}),
        (1, 2, 30, set()),
    ):
        at = datetime.combine(
            tomorrow + timedelta(days=days), time(hour, minute), drill.settings.tz
        )
        await move(drill, at)
        body = await listed(drill, "?open_now=true")
        assert {i["id"] for i in body["items"]} == open_ids, at


async def test_open_now_and_near_together(api: Api) -> None:
    open_far = await place(api, "远的夜店", hours="22:00-02:00", lat=KUANGSHAN[0], lng=KUANGSHAN[1])
    await place(api, "近的白天店", hours="10:00-21:00", lat=DUANDIAN[0], lng=DUANDIAN[1])
    open_near = await place(api, "近的夜店", hours="20:00-03:00", lat=DUANDIAN[0], lng=DUANDIAN[1])
    api.clock.at = beijing(api, 6, 23, 30)
    body = await listed(api, f"?open_now=true&near={HOME[0]},{HOME[1]}")
    assert [i["id"] for i in body["items"]] == [open_near, open_far]


# --- nearest first, against the test's own haversine on random points -----------------------

HUAIYIN = st.tuples(
    st.floats(36.62, 36.72, allow_nan=False), st.floats(116.88, 117.00, allow_nan=False)
)
ANYWHERE = st.tuples(st.floats(-90, 90, allow_nan=False), st.floats(-180, 180, allow_nan=False))
# Poles and the antimeridian, where a bounding box is easiest to get wrong.
EDGES = st.tuples(
    st.sampled_from([-90.0, -89.9999, 89.9999, 90.0, 0.0]),
    st.sampled_from([-180.0, 180.0, 179.9999, -179.9999, 0.0]),
)
POINT = st.one_of(HUAIYIN, ANYWHERE, EDGES)
INSERT = """
INSERT INTO merchants (name, category, credit_code, district, address, contact_phone,
                       api_key_hash, street, lat, lng)
SELECT '店' || n, 'dining', '91370104MA' || lpad(n::text, 8, '0'), '槐荫区', '地址', '13812345678',
       '\\x00', '街道' || (n % 3), p.lat, p.lng
FROM unnest($1::float8[], $2::float8[]) WITH ORDINALITY AS p (lat, lng, n)
"""


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(near=POINT, limit=st.integers(1, 7), data=st.data())
def _nearest_first(
    api: Api, loop: Any, near: tuple[float, float], limit: int, data: st.DataObject
) -> None:
    # Anywhere, and around the query point (across a pole or the antimeridian there too).
    points = data.draw(st.lists(st.one_of(POINT, around(near), st.none()), max_size=30))
    asyncio.run_coroutine_threadsafe(_check_nearest(api, points, near, limit), loop).result()


def around(near: tuple[float, float]) -> st.SearchStrategy[tuple[float, float]]:
    def moved(offset: tuple[float, float]) -> tuple[float, float]:
        lat = max(-90.0, min(90.0, near[0] + offset[0]))
        lng = (near[1] + offset[1] + 180) % 360 - 180
        return (lat, lng)

    step = st.floats(-0.05, 0.05, allow_nan=False)
    return st.tuples(step, step).map(moved)


async def _check_nearest(
    api: Api, points: list[tuple[float, float] | None], near: tuple[float, float], limit: int
) -> None:
    conn = await asyncpg.connect(api.settings.database_url)
    try:
        await conn.execute("DELETE FROM merchants")
        await conn.execute(INSERT, [p and p[0] for p in points], [p and p[1] for p in points])
        ids = [r[0] for r in await conn.fetch("SELECT id FROM merchants ORDER BY id")]
    finally:
        await conn.close()
    where = dict(zip(ids, points, strict=True))
    lat, lng = f"{near[0]:.10f}", f"{near[1]:.10f}"  # as a client writes it
    near = (float(lat), float(lng))
    items = await walk(api, f"?near={lat},{lng}&limit={limit}")
    got = [i["id"] for i in items]
    assert sorted(got) == sorted(ids)  # every active merchant, once
    placed = [i for i in items if i["distance_m"] is not None]
    assert {i["id"] for i in placed} == {m for m in ids if where[m] is not None}
    # Placed first, nearest first (ties by id), each distance the test's own within a metre.
    assert items[: len(placed)] == placed
    keys = [(i["distance_m"], i["id"]) for i in placed]
    assert keys == sorted(keys)
    for item in placed:
        assert abs(item["distance_m"] - haversine_m(near, where[item["id"]])) <= 1, item
    # Nothing nearer was left behind a farther one (beyond the metre of rounding).
    exact = [haversine_m(near, where[i["id"]]) for i in placed]
    assert all(a <= b + 1 for a, b in itertools.pairwise(exact)), exact


async def test_nearest_first_matches_haversine_on_random_points(api: Api) -> None:
    loop = asyncio.get_running_loop()
    await asyncio.to_thread(_nearest_first, api, loop)


async def test_a_position_a_hair_from_the_query_point_is_0_m_not_an_error(api: Api) -> None:
    """Hypothesis found it: a merchant stored at (5e-324, 5e-324) and `near=0,0` made the
    distance's float arithmetic underflow, a 500. Positions count to 1e-9 degrees."""
    conn = await asyncpg.connect(api.settings.database_url)
    try:
        await conn.execute("DELETE FROM merchants")
        await conn.execute(INSERT, [5e-324, 1e-300], [5e-324, 0.0])
    finally:
        await conn.close()
    items = await walk(api, "?near=0.0000000000,0.0000000000&limit=1")
    assert [item["distance_m"] for item in items] == [0, 0]
