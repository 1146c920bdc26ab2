"""Site clustering (pure): properties with hypothesis, the no-chaining street, stable ids, the grid."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hiljade.config import load_config
from hiljade.pipeline.geometry import M_PER_DEG, distance_m
from hiljade.pipeline.sites import (
    Clusterer,
    Point,
    SiteRecord,
    SiteSettings,
    assign,
    camera_direction,
    centre_of,
    cluster,
    independent_reports,
    nearby,
    recluster,
    report_groups,
)

LAT0, LON0 = 44.8125, 20.4612  # Terazije


def offset(lat: float, lon: float, east_m: float, north_m: float) -> tuple[float, float]:
    """A position east_m/north_m metres from (lat, lon)."""
    return lat + north_m / M_PER_DEG, lon + east_m / (M_PER_DEG * math.cos(math.radians(lat)))


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dlon = math.radians(lon2 - lon1)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dlon / 2) ** 2
    return 2 * 6371008.8 * math.asin(math.sqrt(a))


@st.composite
def point_sets(draw: st.DrawFn, max_points: int = 40, span_m: float = 300.0) -> list[Point]:
    """Points in a small area, some repeated near the same spot, with precisions and report times."""
    lat0 = draw(st.sampled_from([LAT0, -33.9, 60.17, 0.0]))
    lon0 = draw(st.sampled_from([LON0, -70.6, 24.94]))
    coords = st.floats(-span_m, span_m, allow_nan=False)
    spots = draw(st.lists(st.tuples(coords, coords), min_size=1, max_size=max_points // 3))
    jitter = st.floats(-30, 30, allow_nan=False)
    reports = st.tuples(
        st.integers(0, len(spots) - 1),
        jitter,
        jitter,
        st.sampled_from([1.0, 5.0, 10.0, 30.0, 80.0]),
        st.integers(0, 20),
    )
    points = []
    drawn = draw(st.lists(reports, min_size=1, max_size=max_points))
    for i, (spot, dx, dy, precision, time) in enumerate(drawn):
        east, north = spots[spot]
        lat, lon = offset(lat0, lon0, east + dx, north + dy)
        points.append(Point(1000 + i * 7, lat, lon, precision, float(time)))  # few times: ties by id
    return points


radii = st.sampled_from([5.0, 10.0, 25.0, 60.0])


def check_sites(points: list[Point], result, radius: float) -> None:  # noqa: ANN001
    """Every point in exactly one site; every member within the radius of its site's centre."""
    by_id = {p.id: p for p in points}
    seen: list[int] = []
    for site in result.sites:
        assert site.members, f"site {site.id} is empty"
        for member in site.members:
            p = by_id[member]
            assert distance_m(p.lat, p.lon, site.lat, site.lon) <= radius + 1e-9
            assert haversine_m(p.lat, p.lon, site.lat, site.lon) <= radius * (1 + 1e-5) + 1e-6
            assert result.assigned.get(member, site.id) == site.id
        seen.extend(site.members)
    assert sorted(seen) == sorted(by_id), "each point is in exactly one site"


def as_tuple(result) -> tuple:  # noqa: ANN001
    return tuple((s.id, s.lat, s.lon, s.members) for s in result.sites)


@settings(max_examples=100, deadline=None)
@given(point_sets(), radii, st.randoms(use_true_random=False))
def test_cluster_properties_and_determinism(points: list[Point], radius: float, rnd: random.Random) -> None:
    result = cluster(points, radius)
    check_sites(points, result, radius)
    shuffled = list(points)
    rnd.shuffle(shuffled)
    assert as_tuple(cluster(shuffled, radius)) == as_tuple(result)
    assert as_tuple(recluster(shuffled, radius)) == as_tuple(result)
    assert [s.id for s in result.sites] == list(range(1, len(result.sites) + 1))


@settings(max_examples=100, deadline=None)
@given(point_sets(), radii, st.integers(0, 60))
def test_new_sightings_keep_ids_and_members(points: list[Point], radius: float, cut: int) -> None:
    """Adding sightings never renumbers sites or moves members; a later batch equals one run."""
    ordered = sorted(points, key=lambda p: (p.time, p.id))
    first, later = ordered[:cut], ordered[cut:]
    before = cluster(first, radius)
    by_id = {p.id: p for p in points}
    records = [SiteRecord(s.id, s.lat, s.lon, tuple(by_id[m] for m in s.members)) for s in before.sites]
    after = assign(records, later, radius)
    check_sites(points, after, radius)
    old = {s.id: s for s in before.sites}
    for site in after.sites:
        if site.id in old:
            assert site.members[: len(old[site.id].members)] == old[site.id].members
        else:
            assert site.id > max(old, default=0) and site.id in after.new
    assert set(old) <= {s.id for s in after.sites}
    assert after.touched == {after.assigned[p.id] for p in later} & set(old)
    # the incremental path gives exactly what one run over everything gives
    assert as_tuple(after) == as_tuple(cluster(points, radius))


@pytest.mark.parametrize("bearing", [0.0, 37.0, 90.0, 135.0])
@pytest.mark.parametrize("lat", [LAT0, 60.17, -45.0])
def test_a_street_with_a_report_every_20_m_is_not_one_site(bearing: float, lat: float) -> None:
    step = 20.0
    points = []
    for i in range(60):
        la, lo = offset(
            lat, LON0, i * step * math.sin(math.radians(bearing)), i * step * math.cos(math.radians(bearing))
        )
        points.append(Point(i, la, lo, 10.0, float(i)))
    result = cluster(points, 25.0)
    check_sites(points, result, 25.0)
    # a ball of radius 25 m holds at most three reports 20 m apart
    assert max(len(s.members) for s in result.sites) <= 3
    assert len(result.sites) >= 20
    # the same with reports arriving from both ends, and repeated reports at each spot
    repeated = [
        Point(100 + k * 60 + p.id, p.lat, p.lon, 10.0, float((p.id * 37 + k) % 11))
        for k in range(3)
        for p in points
    ]
    result = cluster(repeated, 25.0)
    check_sites(repeated, result, 25.0)
    for site in result.sites:
        spots = {m % 60 for m in (x - 100 for x in site.members)}
        assert max(spots) - min(spots) <= 2, "a site spans at most 2 radii of the street"


@settings(max_examples=60, deadline=None)
@given(st.floats(0, 20, allow_nan=False), st.integers(0, 40), st.randoms(use_true_random=False))
def test_a_jittered_street_never_chains(jitter: float, seed: int, rnd: random.Random) -> None:
    gen = random.Random(seed)
    points = []
    for i in range(80):
        la, lo = offset(LAT0, LON0, i * 20.0 + gen.uniform(-jitter, jitter), gen.uniform(-jitter, jitter))
        points.append(Point(i, la, lo, gen.choice([5.0, 10.0, 50.0]), float(gen.randrange(5))))
    rnd.shuffle(points)
    result = cluster(points, 25.0)
    check_sites(points, result, 25.0)
    by_id = {p.id: p for p in points}
    for site in result.sites:
        members = [by_id[m] for m in site.members]
        width = max(distance_m(a.lat, a.lon, b.lat, b.lon) for a in members for b in members)
        assert width <= 50.0 + 1e-6
    assert len(result.sites) >= 80 * 20.0 / 50.0 / 2


def test_distances_are_metres_not_degrees() -> None:
    """At 60° N a degree of longitude is half a degree of latitude: 30 m east stays apart, 20 m joins."""
    lat = 60.17
    a = Point(1, lat, 24.94, 10.0, 0.0)
    east30 = Point(2, *offset(lat, 24.94, 30.0, 0.0), 10.0, 1.0)
    east20 = Point(3, *offset(lat, 24.94, -20.0, 0.0), 10.0, 2.0)
    north30 = Point(4, *offset(lat, 24.94, 0.0, 30.0), 10.0, 3.0)
    result = cluster([a, east30, east20, north30], 25.0)
    assert result.assigned[1] == result.assigned[3]
    assert len({result.assigned[1], result.assigned[2], result.assigned[4]}) == 3


def test_nearest_site_wins_and_the_centre_is_the_weighted_mean() -> None:
    base = Point(1, LAT0, LON0, 10.0, 0.0)
    other = Point(2, *offset(LAT0, LON0, 40.0, 0.0), 10.0, 1.0)
    between = Point(3, *offset(LAT0, LON0, 24.0, 0.0), 10.0, 2.0)  # 24 m from 1, 16 m from 2
    result = cluster([base, other, between], 25.0)
    assert result.assigned[3] == result.assigned[2] != result.assigned[1]
    # a precise (reviewer's) point pulls the centre most
    precise = Point(4, *offset(LAT0, LON0, 10.0, 0.0), 1.0, 3.0)
    site = next(s for s in cluster([base, precise], 25.0).sites)
    assert distance_m(precise.lat, precise.lon, site.lat, site.lon) < 0.2


def test_a_join_that_would_push_a_member_out_keeps_the_centre() -> None:
    a = Point(1, LAT0, LON0, 10.0, 0.0)
    b = Point(2, *offset(LAT0, LON0, 24.0, 0.0), 1.0, 1.0)  # precise: the mean sits almost on b
    (first,) = cluster([a, b], 25.0).sites
    assert 23.0 < distance_m(a.lat, a.lon, first.lat, first.lon) <= 25.0
    c = Point(3, *offset(LAT0, LON0, 30.0, 0.0), 1.0, 2.0)  # joins; the new mean would be ~27 m from a
    (site,) = cluster([a, b, c], 25.0).sites
    assert site.members == (1, 2, 3) and (site.lat, site.lon) == (first.lat, first.lon)
    for p in (a, b, c):
        assert distance_m(p.lat, p.lon, site.lat, site.lon) <= 25.0


def test_recluster_keeps_pinned_sites() -> None:
    a = Point(1, LAT0, LON0, 10.0, 5.0)
    b = Point(2, *offset(LAT0, LON0, 60.0, 0.0), 10.0, 0.0)  # a reviewer put b with a
    c = Point(3, *offset(LAT0, LON0, 5.0, 0.0), 10.0, 1.0)
    d = Point(4, *offset(LAT0, LON0, 500.0, 0.0), 10.0, 2.0)
    pinned = SiteRecord(7, LAT0, LON0, (a, b))
    result = recluster([a, b, c, d], 25.0, pinned=[pinned])
    site7 = next(s for s in result.sites if s.id == 7)
    assert site7.members[:2] == (1, 2) and result.assigned[3] == 7
    assert result.assigned[4] == 8 and result.new == (8,)


near = st.tuples(st.floats(-1.5, 1.5), st.floats(-1.5, 1.5))


@settings(max_examples=80, deadline=None)
@given(
    st.lists(near, min_size=1, max_size=30),
    st.lists(near, min_size=1, max_size=60),
    st.sampled_from([(LAT0, LON0), (70.0, -150.0), (-55.0, -68.3), (0.0, 0.0), (-0.0001, -0.0001)]),
    st.sampled_from([5.0, 25.0, 100.0]),
)
def test_the_grid_finds_the_true_nearest_centre(
    sites: list,
    queries: list,
    origin: tuple,
    radius: float,
) -> None:
    """Centres and queries within a few radii of each other: the grid answers as brute force does."""
    engine = Clusterer(radius)
    centres = []
    for n, (east, north) in enumerate(sites):
        lat, lon = offset(*origin, east * radius * 2, north * radius * 2)
        engine.load(SiteRecord(n + 1, lat, lon))
        centres.append((n + 1, lat, lon))
    for east, north in queries:
        lat, lon = offset(*origin, east * radius * 2, north * radius * 2)
        got, d = engine.nearest(lat, lon)
        within = sorted(
            (distance_m(lat, lon, cl, co), i)
            for i, cl, co in centres
            if distance_m(lat, lon, cl, co) <= radius
        )
        if not within:
            assert got is None
        else:
            assert got == within[0][1] or math.isclose(d, within[0][0], abs_tol=1e-9)
    pts = [Point(i, *offset(*origin, e * radius * 2, n * radius * 2)) for i, (e, n) in enumerate(queries)]
    brute = {i for i, cl, co in centres if any(distance_m(p.lat, p.lon, cl, co) <= radius for p in pts)}
    assert nearby(centres, pts, radius) == brute


def test_camera_direction_faces_the_photographer() -> None:
    assert camera_direction([]) is None
    assert camera_direction([0.0]) == 180.0
    assert camera_direction([350.0, 10.0]) == 180.0
    assert camera_direction([170.0, 190.0]) == 0.0
    assert camera_direction([90.0, 270.0]) is None  # opposite bearings: no direction
    assert camera_direction([179.96]) == 0.0  # never 360


def test_independent_reports_count_groups_of_duplicates() -> None:
    groups = report_groups([(2, 1), (3, 2), (5, 4), (9, 8)])
    assert independent_reports([1, 2, 3], groups) == 1
    assert independent_reports([1, 3, 4, 5, 6], groups) == 3
    assert independent_reports([3, 9], groups) == 2  # linked through posts outside the site
    assert independent_reports([], groups) == 0


def test_centre_of_follows_the_rule() -> None:
    a = Point(1, LAT0, LON0, 10.0)
    b = Point(2, *offset(LAT0, LON0, 10.0, 0.0), 10.0)
    lat, lon = centre_of([a, b], 25.0, current=(a.lat, a.lon))
    assert math.isclose(distance_m(a.lat, a.lon, lat, lon), 5.0, rel_tol=1e-6)
    far = Point(3, *offset(LAT0, LON0, 80.0, 0.0), 10.0)  # a reviewer's merge wider than the radius
    lat, lon = centre_of([a, far], 25.0, current=(a.lat, a.lon))
    assert math.isclose(distance_m(a.lat, a.lon, lat, lon), 40.0, rel_tol=1e-6)
    assert centre_of([], 25.0, current=(1.0, 2.0)) == (1.0, 2.0)


def test_settings_from_config_or_mapping() -> None:
    assert SiteSettings.of(load_config(None, environ={})) == SiteSettings(25.0, 3)
    assert SiteSettings.of({"radius_m": 40, "verify_reports": 2}) == SiteSettings(40.0, 2)
    with pytest.raises(ValueError):
        Clusterer(0.0)
