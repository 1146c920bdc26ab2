"""The compiled clustering path (``sites_fast``, ``sites_kernel``) pinned to the reference engine:
the same sites (ids, members in join order, centres bit for bit), the same assignments, new and
touched sites, for ``cluster``, ``recluster`` with pinned sites and ``assign`` against existing
sites, on generated sets with hot spots, equal distances, equal times and mixed precisions; and
the services (assign twice, then recluster with a reviewer's sites) store the same rows either way."""

from __future__ import annotations

import datetime as dt
import math
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, select, update

from hiljade.models.posts import AuthorPolicy, save_post
from hiljade.models.schema import Post, Sighting, Site
from hiljade.models.store import Store
from hiljade.pipeline import sites, sites_fast, sites_kernel
from hiljade.pipeline.geometry import M_PER_DEG, metres_per_degree
from hiljade.pipeline.sites import FAST_MIN_POINTS, Point, SiteRecord, assign, cluster, recluster
from hiljade.records import PostRecord
from hiljade.services.sites import assign_sites, recluster_sites

LAT0, LON0 = 44.8125, 20.4612
LATTICE = 2.0**-14  # degrees: positions on it subtract exactly, so many distances tie exactly


@pytest.fixture(scope="module", autouse=True)
def compiled() -> None:
    sites_fast.warm_up()


def generated(seed: int, n: int = 20_000, *, sparse: float = 0.0) -> list[Point]:
    """Reports of cameras over a few km: hot spots where hundreds compete, a share snapped to a
    dyadic lattice (exactly equal distances), few distinct times (ties by id), mixed precisions."""
    rng = np.random.default_rng(seed)
    span = 0.03
    cams = np.column_stack([LAT0 + rng.uniform(-span, span, n // 6), LON0 + rng.uniform(-span, span, n // 6)])
    which = rng.integers(0, len(cams), n)
    hot = rng.integers(0, len(cams), 12)
    which[: n // 5] = rng.choice(hot, n // 5)  # a fifth of the reports at 12 hot spots
    dist = rng.uniform(0.0, 35.0, n)
    angle = rng.uniform(0, 2 * math.pi, n)
    lat = cams[which, 0] + dist * np.cos(angle) / M_PER_DEG
    lon = cams[which, 1] + dist * np.sin(angle) / metres_per_degree(LAT0)
    snapped = rng.random(n) < 0.3
    lat[snapped] = np.round(lat[snapped] / LATTICE) * LATTICE
    lon[snapped] = np.round(lon[snapped] / LATTICE) * LATTICE
    if sparse:  # lone reports over this many degrees: more sites than the first arrays hold
        lat, lon = LAT0 + rng.uniform(-sparse, sparse, n), LON0 + rng.uniform(-sparse, sparse, n)
    precision = rng.choice([0.5, 1.0, 5.0, 10.0, 12.5, 30.0, 80.0, 250.0], n)
    times = rng.integers(0, 40, n).astype(float)
    ids = rng.permutation(np.arange(1, 3 * n, 3))[:n]
    rows = zip(ids.tolist(), lat.tolist(), lon.tolist(), precision.tolist(), times.tolist(), strict=True)
    return [Point(*row) for row in rows]


def records(result, points: list[Point], keep: set[int] | None = None) -> list[SiteRecord]:  # noqa: ANN001
    by_id = {p.id: p for p in points}
    return [
        SiteRecord(s.id, s.lat, s.lon, tuple(by_id[m] for m in s.members))
        for s in result.sites
        if keep is None or s.id in keep
    ]


@pytest.mark.parametrize(("seed", "sparse"), [(1, 0.0), (2, 0.0), (3, 0.3), (4, 0.0), (8, 0.035)])
def test_cluster_and_recluster_match_the_reference(seed: int, sparse: float) -> None:
    """Sparse sets: lone reports, so the site arrays grow, with the grid as a hash table (0.3°) or
    as a dense array (0.035°)."""
    points = generated(seed, sparse=sparse)
    arrays = sites_fast.PointArrays.of(points)
    lat, lon = (arrays.lat,), (arrays.lon,)
    dense = sites_fast._dense_grid(lat, lon, 25.0, 25.0 / M_PER_DEG, 3000.0, len(points))[2] > 0
    assert dense == (sparse != 0.3)
    for radius in (25.0, 10.0):
        reference = cluster(points, radius, fast=False)
        fast = cluster(points, radius, fast=True)
        assert fast == reference
        assert len(fast.sites) > (len(points) // 4 + 1024 if sparse else 500)
    # recluster: pinned sites as a reviewer left them, one with no members, one merged wider than
    # the radius (a reviewer's merge), the rest placed again among them
    base = cluster(points, 25.0, fast=False)
    chosen = {s.id for s in base.sites[:: max(1, len(base.sites) // 40)]}
    pinned = records(base, points, chosen)
    wide = base.sites[-1]
    by_id = {p.id: p for p in points}
    pinned.append(
        SiteRecord(10**6, wide.lat, wide.lon, tuple(by_id[m] for m in base.sites[-2].members + wide.members))
    )
    pinned.append(SiteRecord(10**6 + 5, LAT0, LON0, ()))
    reference = recluster(points, 25.0, pinned=pinned, next_id=base.sites[-1].id + 1, fast=False)
    fast = recluster(points, 25.0, pinned=pinned, next_id=base.sites[-1].id + 1, fast=True)
    assert fast == reference
    assert fast.new and (fast.touched or sparse)


@pytest.mark.parametrize("seed", [5, 6])
def test_assign_against_existing_sites_matches_the_reference(seed: int) -> None:
    points = generated(seed)
    ordered = sorted(points, key=lambda p: (p.time, p.id))
    first, later = ordered[: len(ordered) // 2], ordered[len(ordered) // 2 :]
    before = cluster(first, 25.0, fast=False)
    existing = records(before, first)
    top = max(s.id for s in before.sites)
    for next_id in (None, top + 100):
        reference = assign(existing, later, 25.0, next_id=next_id, fast=False)
        fast = assign(existing, later, 25.0, next_id=next_id, fast=True)
        assert fast == reference
        assert fast.touched and fast.new
    # only the sites near the new points, as services.sites loads them
    near = {s.id for s in before.sites[::3]}
    assert assign(records(before, first, near), later, 25.0, fast=True) == assign(
        records(before, first, near), later, 25.0, fast=False
    )


def test_the_default_takes_the_fast_path_for_many_points_only(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = sites_fast.place

    def counted(points: sites_fast.PointArrays, *args, **kwargs) -> sites_fast.SiteArrays:  # noqa: ANN002, ANN003
        calls.append(len(points))
        return real(points, *args, **kwargs)

    monkeypatch.setattr(sites_fast, "place", counted)
    points = generated(7, n=FAST_MIN_POINTS)
    assert cluster(points, 25.0) == cluster(points, 25.0, fast=False)
    cluster(points[:100], 25.0)
    assert calls == [FAST_MIN_POINTS]
    # where it does not apply (a radius under a metre, a position off the globe) the reference runs
    assert cluster(points[:300], 0.5, fast=True) == cluster(points[:300], 0.5, fast=False)
    odd = [*points[:50], Point(10**9, 95.0, 20.0)]
    assert cluster(odd, 25.0, fast=True) == cluster(odd, 25.0, fast=False)
    assert calls == [FAST_MIN_POINTS]


@pytest.mark.parametrize("lat0", [LAT0, 60.25, -33.875])
def test_a_point_halfway_between_two_sites_joins_the_smaller_id(lat0: float) -> None:
    """On the dyadic lattice the two distances are exactly equal: the tie goes to the smaller id,
    whichever site came first in space."""
    for north, east in ((6, 0), (0, 6), (-6, 0), (0, -8), (6, 6)):
        for first, second in ((0.0, 1.0), (1.0, 0.0)):  # either site started first (id 1)
            a = Point(10, lat0, LON0, 10.0, first)
            b = Point(20, lat0 + north * LATTICE, LON0 + east * LATTICE, 10.0, second)
            middle = Point(5, lat0 + north / 2 * LATTICE, LON0 + east / 2 * LATTICE, 10.0, 2.0)
            points = [a, b, middle]
            reference = cluster(points, 25.0, fast=False)
            assert cluster(points, 25.0, fast=True) == reference
            if len(reference.sites) == 2 and north * east == 0:
                assert reference.assigned[5] == 1


def test_duplicate_existing_ids_are_refused_alike() -> None:
    twice = [SiteRecord(3, LAT0, LON0), SiteRecord(3, LAT0 + 0.01, LON0)]
    for fast in (False, True):
        with pytest.raises(ValueError, match="site 3 exists already"):
            assign(twice, [Point(1, LAT0, LON0)], 25.0, fast=fast)


def test_the_kernel_hypot_and_cosine_are_pythons() -> None:
    """The re-centre bound uses math.hypot and every metre of longitude math.cos: the compiled
    versions give the same bits (subnormal inputs only where their CPython 3.11 branch applies)."""
    sites_kernel.ready()
    rng = np.random.default_rng(11)
    n = 200_000
    x = np.concatenate([rng.uniform(-60, 60, n), rng.uniform(-1, 1, n) * 2.0 ** rng.integers(-1000, 60, n)])
    y = np.concatenate([rng.normal(0, 20, n), rng.uniform(-1, 1, n) * 2.0 ** rng.integers(-1000, 60, n)])
    if sys.version_info[:2] == (3, 11):
        x = np.append(x, rng.uniform(-1, 1, 1000) * 2.0**-1060)
        y = np.append(y, rng.uniform(-1, 1, 1000) * 2.0**-1040)
    x = np.append(x, [0.0, -0.0, 3.0, math.inf, 1e308, 1e308])
    y = np.append(y, [0.0, 5.0, -4.0, 1.0, 1e308, -1e300])
    out = np.empty_like(x)
    sites_kernel.hypot_many(x, y, out)
    assert out.tolist() == [math.hypot(a, b) for a, b in zip(x.tolist(), y.tolist(), strict=True)]
    lat = np.concatenate([rng.uniform(-90, 90, n), rng.uniform(44.7, 44.9, n), [0.0, 90.0, -90.0, 89.9]])
    out = np.empty_like(lat)
    sites_kernel.mpd_many(lat, out)
    assert out.tolist() == [metres_per_degree(v) for v in lat.tolist()]


@st.composite
def small_sets(draw: st.DrawFn) -> tuple[list[Point], float]:
    """A few points around one spot (often on the lattice), few times, mixed precisions."""
    lat0 = draw(st.sampled_from([LAT0, -33.9, 60.17, 0.0, 89.5]))
    lon0 = draw(st.sampled_from([LON0, -70.6, 179.99]))
    radius = draw(st.sampled_from([1.0, 5.0, 25.0, 60.0]))
    step = draw(st.sampled_from([LATTICE, 2 * LATTICE, LATTICE / 4, radius / M_PER_DEG / 2]))
    cells = st.integers(-8, 8)
    drawn = draw(
        st.lists(
            st.tuples(cells, cells, st.sampled_from([0.5, 1.0, 10.0, 30.0, 80.0]), st.integers(0, 4)),
            min_size=1,
            max_size=60,
        )
    )
    points = [
        Point(7 * i + 3, lat0 + a * step, lon0 + b * step, precision, float(time))
        for i, (a, b, precision, time) in enumerate(drawn)
    ]
    return points, radius


@settings(max_examples=150, deadline=None)
@given(small_sets(), st.integers(0, 60), st.integers(0, 3))
def test_small_cases_match_the_reference(case: tuple[list[Point], float], cut: int, pins: int) -> None:
    points, radius = case
    assert cluster(points, radius, fast=True) == cluster(points, radius, fast=False)
    ordered = sorted(points, key=lambda p: (p.time, p.id))
    first, later = ordered[:cut], ordered[cut:]
    before = cluster(first, radius, fast=False)
    existing = records(before, first)
    assert assign(existing, later, radius, fast=True) == assign(existing, later, radius, fast=False)
    pinned = existing[:pins]
    if pins == 3:
        pinned.append(SiteRecord(999_999, points[0].lat, points[0].lon, ()))
    fast = recluster(points, radius, pinned=pinned, fast=True)
    assert fast == recluster(points, radius, pinned=pinned, fast=False)


NOW = dt.datetime(2025, 3, 1, 12, tzinfo=dt.UTC)


def _store_point(conn: Connection, n: int, point: Point) -> None:
    """A post (its time from the point's, so many tie) with one chosen sighting at the point."""
    record = PostRecord(
        platform="mastodon",
        server="https://m.example",
        native_id=str(n),
        uri=f"https://m.example/s/{n}",
        created_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=point.time),
        text="kamera",
    )
    save_post(conn, record, AuthorPolicy(secret=b"k" * 32), NOW)
    post_id = conn.execute(select(Post.id).where(Post.uri == record.uri)).scalar_one()
    values = {"post_id": post_id, "chosen": True, "method": "address", "lat": point.lat, "lon": point.lon}
    values |= {"precision_m": point.precision_m, "confidence": 0.8, "status": "auto", "matched": ""}
    values |= {"source": "test", "evidence": {}, "pipeline_version": "1", "created_at": NOW}
    conn.execute(Sighting.__table__.insert().values(**values))


def _stored_sites(folder: Path, points: list[Point], fast: bool, patch: pytest.MonkeyPatch) -> tuple:
    """Assign in two batches, pin a few sites as a reviewer would, recluster: the stored result."""
    patch.setattr(sites, "FAST_MIN_POINTS", 0 if fast else 10**12)
    store = Store(f"sqlite:///{folder / ('fast' if fast else 'reference')}.db")
    store.migrate()
    settings = {"radius_m": 25.0, "verify_reports": 3}
    half = len(points) // 2
    with store.transaction() as conn:
        for n, point in enumerate(points[:half]):
            _store_point(conn, n, point)
        assign_sites(conn, settings, NOW)
    with store.transaction() as conn:
        for n, point in enumerate(points[half:], half):
            _store_point(conn, n, point)
        assign_sites(conn, settings, NOW)
        ids = sorted(conn.execute(select(Site.id)).scalars())
        conn.execute(update(Site.__table__).where(Site.id.in_(ids[::40])).values(verified_by="ana"))
        conn.execute(update(Site.__table__).where(Site.id == ids[7]).values(status="rejected"))
        counts = recluster_sites(conn, settings, NOW)
    with store.connect() as conn:
        placed = sorted(conn.execute(select(Sighting.id, Sighting.site_id)))
        rows = sorted(conn.execute(select(Site.id, Site.lat, Site.lon, Site.reports, Site.status)))
    store.close()
    return placed, rows, counts


def test_services_store_the_same_either_way(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = sites_fast.place

    def counted(points: sites_fast.PointArrays, *args, **kwargs) -> sites_fast.SiteArrays:  # noqa: ANN002, ANN003
        calls.append(len(points))
        return real(points, *args, **kwargs)

    monkeypatch.setattr(sites_fast, "place", counted)
    points = generated(9, n=1200)
    fast = _stored_sites(tmp_path, points, True, monkeypatch)
    assert len(calls) == 3  # assign twice, recluster once
    reference = _stored_sites(tmp_path, points, False, monkeypatch)
    assert len(calls) == 3
    assert fast == reference
    assert fast[2].pinned and fast[2].sites_after > 100
