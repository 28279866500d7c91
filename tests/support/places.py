"""Distances on the Earth as the tests compute them, apart from the service's SQL."""

from __future__ import annotations

import math

EARTH_RADIUS_M = 6_371_000


def haversine_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """The great-circle distance in metres between two (lat, lng) points in degrees."""
    (lat1, lng1), (lat2, lng2) = a, b
    h = (
        math.sin(math.radians(lat2 - lat1) / 2) ** 2
        + math.cos(math.radians(lat1))
        * math.cos(math.radians(lat2))
        * math.sin(math.radians(lng2 - lng1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))
