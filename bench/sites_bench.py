"""Sites benchmark: cluster 1,000,000 sightings over Belgrade, time one join against 100,000 sites,
and run scikit-learn's DBSCAN (haversine, ball tree) on the same points as the reference.

Synthetic, seeded data (no ../shared needed): --cameras true camera positions in the Belgrade bbox
(44.70-44.90 N, 20.30-20.60 E), 60% around the centre and 40% anywhere; --hot of them are hot spots
with 500 reports each; every other camera gets 1 + Poisson reports so that the total is --points.
Each report is displaced 5-30 m in a random direction (GPS or geoparse noise; its precision_m is
that distance) and has a random time in 2019-2026. Peak memory is the rise of the process's peak
resident set (VmHWM, reset through /proc/self/clear_refs) during each step. DBSCAN runs in a child
process; if it does not finish within --dbscan-timeout seconds (or runs out of memory) it is
retried on half the points, and hiljade is timed on that same subset for the ratio.

    pip install scikit-learn   # bench-only: the reference, not a hiljade dependency
    python bench/sites_bench.py [--points 1000000] [--cameras 150000] [--radius 25] [--seed 1]
"""

from __future__ import annotations

import argparse
import gc
import math
import multiprocessing as mp
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from hiljade.pipeline.geometry import EARTH_RADIUS_M, M_PER_DEG  # noqa: E402
from hiljade.pipeline.sites import (  # noqa: E402
    Clusterer,
    Point,
    SiteRecord,
    assign,
    cluster,
)

BBOX = (44.70, 20.30, 44.90, 20.60)  # south, west, north, east
CENTRE = (44.8125, 20.4612)
EPOCH_2019, EPOCH_2026 = 1546300800.0, 1767225600.0


def rss_kib(field: str) -> int:
    return int(re.search(rf"{field}:\s+(\d+)", Path("/proc/self/status").read_text()).group(1))


class PeakMemory:
    """The rise of the peak resident set during a block, in MiB."""

    def __enter__(self) -> PeakMemory:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
        self.base = rss_kib("VmRSS")
        return self

    def __exit__(self, *exc: object) -> None:
        self.mib = (rss_kib("VmHWM") - self.base) / 1024


def cameras(n: int, rng: np.random.Generator) -> np.ndarray:
    """True camera positions (lat, lon): 60% around the centre, 40% anywhere in the bbox."""
    south, west, north, east = BBOX
    central = int(n * 0.6)
    km = 1000.0 / M_PER_DEG
    lat = np.concatenate([rng.normal(CENTRE[0], 2.5 * km, central), rng.uniform(south, north, n - central)])
    lon = np.concatenate(
        [
            rng.normal(CENTRE[1], 2.5 * km / math.cos(math.radians(CENTRE[0])), central),
            rng.uniform(west, east, n - central),
        ]
    )
    return np.column_stack([np.clip(lat, south, north), np.clip(lon, west, east)])


def reports(n: int, cams: np.ndarray, hot: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """n reports of the cameras: (camera index, lat, lon, precision_m, time), in id order."""
    hot_idx = rng.choice(len(cams), hot, replace=False)
    per_hot = 500
    rest = n - hot * per_hot
    counts = 1 + rng.poisson(max(rest / len(cams) - 1, 0), len(cams))
    which = np.repeat(np.arange(len(cams)), counts)
    rng.shuffle(which)
    which = (
        which[:rest]
        if len(which) >= rest
        else np.concatenate([which, rng.integers(0, len(cams), rest - len(which))])
    )
    which = np.concatenate([which, np.repeat(hot_idx, per_hot)])
    rng.shuffle(which)
    dist = rng.uniform(5.0, 30.0, n)
    angle = rng.uniform(0, 2 * math.pi, n)
    lat = cams[which, 0] + dist * np.cos(angle) / M_PER_DEG
    lon = cams[which, 1] + dist * np.sin(angle) / (M_PER_DEG * np.cos(np.radians(cams[which, 0])))
    times = rng.uniform(EPOCH_2019, EPOCH_2026, n)
    return which, lat, lon, np.round(dist, 1), times


def to_points(lat: np.ndarray, lon: np.ndarray, prec: np.ndarray, times: np.ndarray, first: int = 0) -> list:
    rows = zip(lat.tolist(), lon.tolist(), prec.tolist(), times.tolist(), strict=True)
    return [Point(first + i, a, b, c, d) for i, (a, b, c, d) in enumerate(rows)]


def extents(labels: np.ndarray, lat: np.ndarray, lon: np.ndarray, centres: tuple | None = None) -> tuple:
    """Per cluster: member count and the largest member distance (m) from its centre (default: the
    members' mean)."""
    n = np.bincount(labels)
    if centres is None:
        centres = (np.bincount(labels, lat) / np.maximum(n, 1), np.bincount(labels, lon) / np.maximum(n, 1))
    mlat, mlon = centres
    dy = (lat - mlat[labels]) * M_PER_DEG
    dx = (lon - mlon[labels]) * M_PER_DEG * np.cos(np.radians(mlat[labels]))
    far = np.zeros(len(n))
    np.maximum.at(far, labels, np.hypot(dx, dy))
    return n[n > 0], far[n > 0]


def describe(
    labels: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    radius: float,
    truth: np.ndarray,
    centres: tuple | None = None,
) -> str:
    """Cluster count and size, how far members lie from the centre, and agreement with the cameras."""
    sizes, far = extents(labels, lat, lon, centres)
    camera_of: dict[int, int] = {}
    mixed: set[int] = set()
    for lab, cam in zip(labels.tolist(), truth.tolist(), strict=True):
        if camera_of.setdefault(lab, cam) != cam:
            mixed.add(lab)
    pieces = len(set(zip(truth.tolist(), labels.tolist(), strict=True))) - len(set(truth.tolist()))
    where = "its centre" if centres is not None else "its members' mean"
    return (
        f"{len(sizes):,} clusters, largest {sizes.max():,} members; farthest member {far.max():,.0f} m "
        f"from {where}, {(far > radius + 1e-6).sum():,} clusters reach beyond the radius; "
        f"{len(mixed):,} clusters mix true cameras, {pieces:,} extra pieces of split cameras"
    )


def run_hiljade(points: list, radius: float) -> tuple[float, float, np.ndarray, tuple]:
    """(seconds, peak MiB, site id per point, (centre lat, centre lon) per site id)."""
    with PeakMemory() as mem:
        t0 = time.perf_counter()
        result = cluster(points, radius)
        elapsed = time.perf_counter() - t0
    labels = np.empty(len(points), dtype=np.int64)
    clat = np.zeros(len(result.sites) + 1)
    clon = np.zeros(len(result.sites) + 1)
    for site in result.sites:
        labels[list(site.members)] = site.id
        clat[site.id], clon[site.id] = site.lat, site.lon
    plat, plon = np.array([p.lat for p in points]), np.array([p.lon for p in points])
    _, far = extents(labels, plat, plon, (clat, clon))
    assert far.max() <= radius + 1e-6, far.max()  # every member within the radius of its site's centre
    return elapsed, mem.mib, labels, (clat, clon)


def _dbscan_child(lat: np.ndarray, lon: np.ndarray, radius: float, conn: Any) -> None:
    from sklearn.cluster import DBSCAN

    x = np.radians(np.column_stack([lat, lon]))
    with PeakMemory() as mem:
        t0 = time.perf_counter()
        labels = (
            DBSCAN(eps=radius / EARTH_RADIUS_M, min_samples=1, metric="haversine", algorithm="ball_tree")
            .fit(x)
            .labels_
        )
        elapsed = time.perf_counter() - t0
    conn.send((elapsed, mem.mib, labels))


def run_dbscan(lat: np.ndarray, lon: np.ndarray, radius: float, timeout: float) -> tuple | None:
    """(seconds, peak MiB, labels), or None on a timeout or a crash (out of memory)."""
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_dbscan_child, args=(lat, lon, radius, child))
    proc.start()
    child.close()
    got = parent.recv() if parent.poll(timeout) else None
    proc.join(5)
    if proc.is_alive():
        proc.kill()
        proc.join()
    return got


def join_cost(points: list, new: list, radius: float, sites_wanted: int) -> str:
    """Per-sighting cost of joining against ``sites_wanted`` existing sites."""
    base = cluster(points, radius)
    kept = [s for s in base.sites if s.id <= sites_wanted]
    by_id = {p.id: p for p in points}
    records = [SiteRecord(s.id, s.lat, s.lon, tuple(by_id[m] for m in s.members)) for s in kept]
    engine = Clusterer(radius)
    t0 = time.perf_counter()
    for r in records:
        engine.load(r)
    load_s = time.perf_counter() - t0
    costs = []
    joined = 0
    clock = time.perf_counter
    gc.disable()  # as assign() does
    for p in sorted(new, key=lambda q: (q.time, q.id)):
        t = clock()
        _, started = engine.add(p.id, p.lat, p.lon, p.precision_m)
        costs.append(clock() - t)
        joined += not started
    gc.enable()
    t0 = time.perf_counter()
    assign(records, new, radius)
    whole = time.perf_counter() - t0
    costs.sort()
    us = [c * 1e6 for c in costs]
    return (
        f"join against {len(records):,} sites (then {len(engine.by_id):,}): {len(new):,} new sightings "
        f"({joined:,} joined a site, "
        f"{len(new) - joined:,} started one): mean {statistics.fmean(us):.1f} us, median "
        f"{us[len(us) // 2]:.1f} us, p99 {us[int(len(us) * 0.99)]:.1f} us per sighting; loading the "
        f"sites {load_s:.2f} s; assign() with loading {whole:.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--cameras", type=int, default=150_000)
    parser.add_argument("--hot", type=int, default=100, help="hot-spot cameras with 500 reports each")
    parser.add_argument("--radius", type=float, default=25.0)
    parser.add_argument("--sites", type=int, default=100_000, help="existing sites for the join cost")
    parser.add_argument("--dbscan-points", type=int, default=0, help="0: all")
    parser.add_argument("--dbscan-timeout", type=float, default=1200.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()
    cams = cameras(args.cameras, rng)
    truth, lat, lon, prec, times = reports(args.points, cams, args.hot, rng)
    points = to_points(lat, lon, prec, times)
    print(
        f"data: {args.points:,} sightings of {args.cameras:,} cameras ({args.hot} hot spots x 500), "
        f"noise 5-30 m, radius {args.radius:g} m, made in {time.perf_counter() - t0:.1f} s"
    )

    elapsed, mib, labels, centres = run_hiljade(points, args.radius)
    print(
        f"hiljade cluster(): {elapsed:.1f} s ({elapsed / len(points) * 1e6:.1f} us/sighting), "
        f"peak +{mib:,.0f} MiB"
    )
    print("  " + describe(labels, lat, lon, args.radius, truth, centres))

    extra_truth, elat, elon, eprec, etimes = reports(100_000, cams, 0, rng)
    new = to_points(elat, elon, eprec, etimes + (EPOCH_2026 - EPOCH_2019), first=len(points))
    print(join_cost(points, new, args.radius, args.sites))

    try:
        import sklearn
    except ImportError:
        print(
            "scikit-learn is not installed, so the DBSCAN reference was skipped: "
            "`pip install scikit-learn` (bench-only; hiljade does not depend on it)"
        )
        return
    n = args.dbscan_points or len(points)
    while n >= 1000:
        print(
            f"DBSCAN (scikit-learn {sklearn.__version__}, haversine, ball_tree, min_samples=1, one core) "
            f"on {n:,} points ...",
            flush=True,
        )
        got = run_dbscan(lat[:n], lon[:n], args.radius, args.dbscan_timeout)
        if got is not None:
            break
        print(f"  no result within {args.dbscan_timeout:.0f} s (or out of memory); halving", flush=True)
        n //= 2
    else:
        return
    d_elapsed, d_mib, d_labels = got
    print(f"DBSCAN: {d_elapsed:.1f} s, peak +{d_mib:,.0f} MiB")
    print("  " + describe(d_labels, lat[:n], lon[:n], args.radius, truth[:n]))
    if n < len(points):
        elapsed, mib, _, _ = run_hiljade(points[:n], args.radius)
        print(f"hiljade on the same {n:,} points: {elapsed:.1f} s, peak +{mib:,.0f} MiB")
    print(
        f"ratio: DBSCAN / hiljade time {d_elapsed / elapsed:.2f}x, memory {d_mib / max(mib, 1):.2f}x "
        f"(on {n:,} points)"
    )


if __name__ == "__main__":
    main()
