"""Where to spend: the public merchant directory (active merchants only, nothing personal).

Two orders, each paged by a keyset cursor:
- by street, then name (merchants without a street last), when no `near` is given;
- by distance from `near`, nearest first. PostgreSQL has no PostGIS here, so a bounding box
  around `near` that the (lat, lng) index serves picks the candidates, the exact great-circle
  distance (haversine, SQL function great_circle_m) is computed for them alone, and the box
  widens (×4) until it holds a page or covers the Earth. A box is always a superset of the
  circle it stands for, and only rows inside the circle count, so every page is exact.
  Merchants without a position follow all the placed ones, in street order.

A cursor names the last row of a page and is signed together with the query it belongs to,
so an edited cursor, or one from another query, is refused (400) instead of read.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
from dataclasses import dataclass
from typing import Any

import asyncpg

from service.db import Database
from service.errors import DomainError, ErrorCode, not_found

EARTH_RADIUS_M = 6_371_000  # as great_circle_m (sql/migrations/0015_merchant_directory.sql)
# Half the Earth's circumference is the farthest any point can be: a radius past it holds all.
WHOLE_EARTH_M = math.ceil(math.pi * EARTH_RADIUS_M) + 1
FIRST_RADIUS_M = 2_000
WIDEN_BY = 4


@dataclass(frozen=True)
class Filters:
    """What the directory is asked for. `minute`: open at this minute of the festival's day
    (0…1439) when given; `near`: (lat, lng) to sort by distance from."""

    category: str | None = None
    q: str | None = None
    street: str | None = None
    batch_id: int | None = None
    minute: int | None = None
    near: tuple[float, float] | None = None

    def canonical(self) -> bytes:
        """The query a cursor belongs to, as the bytes its signature covers."""
        return json.dumps(
            [self.category, self.q, self.street, self.batch_id, self.minute is not None, self.near],
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()

    def params(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "name_like": None if self.q is None else f"%{like_escaped(self.q)}%",
            "street": self.street,
            "batch_id": self.batch_id,
            "minute": self.minute,
        }


def like_escaped(text: str) -> str:
    """`text` matched literally by LIKE/ILIKE (whose escape character is the backslash)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass(frozen=True)
class Box:
    lat_min: float
    lat_max: float
    lng_min: float
    lng_max: float

    @property
    def whole_earth(self) -> bool:
        return self.lat_min <= -90 and self.lat_max >= 90


def bounding_box(lat: float, lng: float, radius_m: float) -> Box:
    """A latitude/longitude box holding every point within `radius_m` of (lat, lng) on the
    sphere (J. Matuschek, "Finding Points Within a Distance of a Latitude/Longitude Using
    Bounding Coordinates"). Past a pole, or across the antimeridian, it takes every longitude:
    a bigger box is still a superset, and exactness comes from the distance test."""
    delta = radius_m / EARTH_RADIUS_M  # the radius as an angle, radians
    lat_min, lat_max = lat - math.degrees(delta), lat + math.degrees(delta)
    if lat_min <= -90 or lat_max >= 90:  # the circle holds a pole
        return Box(max(lat_min, -90.0), min(lat_max, 90.0), -180.0, 180.0)
    # |lat| + delta < 90°, so sin(delta) < cos(lat): the asin is defined.
    spread = math.degrees(math.asin(math.sin(delta) / math.cos(math.radians(lat))))
    if lng - spread < -180 or lng + spread > 180:
        return Box(lat_min, lat_max, -180.0, 180.0)
    return Box(lat_min, lat_max, lng - spread, lng + spread)


# --- cursors --------------------------------------------------------------------------------


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, filters: Filters, payload: bytes) -> bytes:
    return hmac.new(key, filters.canonical() + b"\n" + payload, hashlib.sha256).digest()[:12]


def make_cursor(key: bytes, filters: Filters, position: list[Any]) -> str:
    payload = json.dumps(position, ensure_ascii=False, separators=(",", ":")).encode()
    return f"{_b64(payload)}.{_b64(_mac(key, filters, payload))}"


def _bad_cursor() -> DomainError:
    return DomainError(
        ErrorCode.INVALID_REQUEST,
        "the cursor is not valid for this query",
        {"cursor": ["Not a cursor this query gave (pass next_cursor back unchanged)."]},
    )


def read_cursor(key: bytes, filters: Filters, cursor: str) -> list[Any]:
    """The position a cursor names: ["d", distance_m, id] (by distance) or
    ["s", no_street, street, name, id] (by street)."""
    payload_text, _, mac_text = cursor.partition(".")
    try:
        payload, mac = _unb64(payload_text), _unb64(mac_text)
    except (ValueError, UnicodeEncodeError):
        raise _bad_cursor() from None
    if not hmac.compare_digest(mac, _mac(key, filters, payload)):
        raise _bad_cursor()
    # Signed by this service for this query: its shape is ours.
    position: list[Any] = json.loads(payload)
    return position


# --- the directory --------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    items: list[asyncpg.Record]
    next_cursor: str | None


async def search(
    db: Database, filters: Filters, *, limit: int, cursor: str | None, key: bytes
) -> Page:
    """One page of the directory after `cursor` (None: the first page)."""
    position = None if cursor is None else read_cursor(key, filters, cursor)
    if filters.batch_id is not None and not await db.fetchval(
        "directory_batch_exists", batch_id=filters.batch_id
    ):
        raise not_found("batch")
    rows: list[asyncpg.Record] = []
    if filters.near is not None and (position is None or position[0] == "d"):
        rows = await _nearest(db, filters, limit=limit, after=position)
        if len(rows) > limit:
            return _page(key, filters, rows, limit)
        position = None  # every placed merchant listed: the unplaced ones follow
    by_street = await db.fetch(
        "directory_by_street",
        **filters.params(),
        unplaced_only=filters.near is not None,
        after_id=None if position is None else position[4],
        after_no_street=None if position is None else position[1],
        after_street=None if position is None else position[2],
        after_name=None if position is None else position[3],
        limit=limit + 1 - len(rows),
    )
    return _page(key, filters, rows + by_street, limit)


async def _nearest(
    db: Database, filters: Filters, *, limit: int, after: list[Any] | None
) -> list[asyncpg.Record]:
    """Up to limit + 1 placed merchants nearest `filters.near` after the cursor's (distance,
    id); fewer only when no more are placed anywhere."""
    assert filters.near is not None
    lat, lng = filters.near
    after_m, after_id = (after[1], after[2]) if after is not None else (-1, 0)
    radius = max(FIRST_RADIUS_M, 2 * after_m)
    while True:
        radius = min(radius, WHOLE_EARTH_M)
        # The box of a metre more: a row whose rounded distance is within the radius lies
        # less than half a metre beyond it.
        box = bounding_box(lat, lng, radius + 1)
        rows = await db.fetch(
            "directory_near",
            **filters.params(),
            lat=lat,
            lng=lng,
            lat_min=box.lat_min,
            lat_max=box.lat_max,
            lng_min=box.lng_min,
            lng_max=box.lng_max,
            radius_m=radius,
            after_m=after_m,
            after_id=after_id,
            limit=limit + 1,
        )
        # Every row within the radius is here (up to the limit), and every row not here is
        # farther: enough rows, or the whole Earth, make the page exact.
        if len(rows) > limit or radius >= WHOLE_EARTH_M:
            return rows
        radius *= WIDEN_BY


def _page(key: bytes, filters: Filters, rows: list[asyncpg.Record], limit: int) -> Page:
    items = rows[:limit]
    if len(rows) <= limit:
        return Page(items, None)
    last = items[-1]
    if last["distance_m"] is not None:
        position: list[Any] = ["d", last["distance_m"], last["id"]]
    else:
        position = ["s", last["street"] is None, last["street"] or "", last["name"], last["id"]]
    return Page(items, make_cursor(key, filters, position))
