"""Privacy zones: haversine distance against the zone radius."""

from __future__ import annotations

import math

import pytest

from commons_helper.config import PrivacyZone
from commons_helper.photo import GeoPoint
from commons_helper.privacy import distance_m, in_privacy_zone

HOME = PrivacyZone(52.5200, 13.4050, 500.0, "home")
CABIN = PrivacyZone(61.0, 10.0, 2000.0, "cabin")


@pytest.mark.parametrize(("a", "b", "metres", "tolerance"), [
    ((0.0, 0.0), (0.0, 0.0), 0.0, 1e-6),
    ((0.0, 0.0), (0.0, 1.0), 111_195.08, 1.0),  # one degree on the equator, mean radius
    ((0.0, 0.0), (1.0, 0.0), 111_195.08, 1.0),
    ((52.5200, 13.4050), (48.8566, 2.3522), 877_460.0, 1_500.0),  # Berlin - Paris
    ((0.0, 179.9), (0.0, -179.9), 22_239.0, 5.0),  # across the antimeridian
    ((90.0, 0.0), (90.0, 120.0), 0.0, 1e-6),  # the pole is one point
    ((0.0, 0.0), (0.0, 180.0), math.pi * 6_371_008.8, 1.0),  # antipodes
])
def test_distance(a: tuple[float, float], b: tuple[float, float], metres: float, tolerance: float) -> None:
    assert abs(distance_m(*a, *b) - metres) <= tolerance
    assert abs(distance_m(*b, *a) - metres) <= tolerance


@pytest.mark.parametrize(("point", "zones", "found"), [
    (GeoPoint(52.5200, 13.4050), (HOME,), HOME),                # centre
    (GeoPoint(52.5244, 13.4050), (HOME,), HOME),                # ~489 m north
    (GeoPoint(52.5246, 13.4050), (HOME,), None),                # ~511 m north
    (GeoPoint(52.5200, 13.4123), (HOME,), HOME),  # ~494 m east (degrees of longitude shrink)
    (GeoPoint(52.5200, 13.4127), (HOME,), None),                # ~522 m east
    (GeoPoint(61.01, 10.0), (HOME, CABIN), CABIN),              # second zone
    (GeoPoint(61.0, 10.0), (CABIN, HOME), CABIN),
    (GeoPoint(0.0, 0.0), (HOME, CABIN), None),
    (GeoPoint(52.52, 13.405), (), None),                        # no zones
    (GeoPoint(math.nan, 13.405), (HOME,), HOME),                # not a position: hide when zones exist
    (GeoPoint(52.52, math.inf), (CABIN,), CABIN),
    (GeoPoint(95.0, 0.0), (HOME,), HOME),
    (GeoPoint(math.nan, 0.0), (), None),
])
def test_in_privacy_zone(point: GeoPoint, zones: tuple[PrivacyZone, ...], found: PrivacyZone | None) -> None:
    assert in_privacy_zone(point, zones) == found


def test_zone_edge_counts_as_inside() -> None:
    edge = distance_m(52.52, 13.405, 52.523, 13.405)
    zone = PrivacyZone(52.52, 13.405, edge)
    assert in_privacy_zone(GeoPoint(52.523, 13.405), [zone]) == zone


def test_zero_radius_zone_only_matches_its_centre() -> None:
    zone = PrivacyZone(1.0, 2.0, 0.0)
    assert in_privacy_zone(GeoPoint(1.0, 2.0), (zone,)) == zone
    assert in_privacy_zone(GeoPoint(1.00001, 2.0), (zone,)) is None


def test_zones_may_be_any_iterable() -> None:
    assert in_privacy_zone(GeoPoint(52.52, 13.405), iter([HOME])) == HOME
