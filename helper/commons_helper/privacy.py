"""Privacy zones: places (home, a friend's garden) whose photos never get a published location.

Pure geometry, no I/O: great-circle distance (haversine on the mean Earth radius)
against each zone's radius in metres.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from .config import PrivacyZone
from .photo import GeoPoint

#: Mean Earth radius (IUGG), metres. The haversine error against the ellipsoid is below 0.5 %.
EARTH_RADIUS_M = 6_371_008.8


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres between two points given in degrees."""
    p1 = math.radians(lat1)
    p2 = math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def in_privacy_zone(point: GeoPoint, zones: Iterable[PrivacyZone]) -> PrivacyZone | None:
    """The first zone that contains ``point`` (on its edge counts as inside), or None.

    A point that is not a real position (NaN, infinite, latitude beyond ±90) is
    treated as inside the first zone when there are zones: when in doubt, hide.
    """
    zones = tuple(zones)
    if not zones:
        return None
    if not (math.isfinite(point.lat) and math.isfinite(point.lon) and -90 <= point.lat <= 90):
        return zones[0]
    for zone in zones:
        if distance_m(point.lat, point.lon, zone.lat, zone.lon) <= zone.radius_m:
            return zone
    return None
