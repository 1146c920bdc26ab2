"""Sites benchmark: cluster 1,000,000 sightings over Belgrade with hiljade's compiled path
(``sites_fast.place`` on arrays) and with scikit-learn's DBSCAN (haversine, ball tree,
min_samples=1) on the same points in the same run, alternating; then the pure-Python reference
(``cluster(..., fast=False)``) once, for context and to check that both paths give the same sites
(ids, members in join order, centres, bit for bit); then the cost of one join against 100,000 sites.

Synthetic, seeded data (no ../shared needed): --cameras true camera positions in the Belgrade bbox
(44.70-44.90 N, 20.30-20.60 E), 60% around the centre and 40% anywhere; --hot of them are hot spots
with 500 reports each; every other camera gets 1 + Poisson reports so that the total is --points.
Each report is displaced 5-30 m in a random direction (GPS or geoparse noise; its precision_m is
that distance) and has a random time in 2019-2026.

Each timed run happens in a child process of its own (forked after the points are made, the
compiled loop is loaded and scikit-learn is imported), so memory is measured alike for both: the
rise of the peak resident set (VmHWM, reset through /proc/self/clear_refs) and, in one extra round
each, the tracemalloc peak above the start. Times are medians over --rounds alternating rounds.
The last line compares them (ratios are DBSCAN / hiljade; the memory ratio is the smaller of the
RSS and tracemalloc ratios). Loading numba itself costs a process about 130 MiB once (the line
about the first call says how much); that is not in the per-run figures.

    pip install scikit-learn   # bench-only: the reference, not a hiljade dependency
    python bench/sites_bench.py [--points 1000000] [--cameras 150000] [--radius 25] [--seed 1]
"""

from __future__ import annotations

import argparse
import gc
import math
import multiprocessing as mp
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from hiljade.pipeline import sites_fast  # noqa: E402
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


def in_child(work: Callable[[], Any], timeout: float, trace: bool = False) -> tuple | None:
    """Run ``work`` in a forked child: (seconds, RSS peak rise MiB, tracemalloc peak MiB or None, its
    result), or None on a timeout or a crash (out of memory)."""
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)

    def run() -> None:
        gc.collect()
        if trace:
            tracemalloc.start()
            start = tracemalloc.get_traced_memory()[0]
        with PeakMemory() as mem:
            t0 = time.perf_counter()
            result = work()
            elapsed = time.perf_counter() - t0
        traced = (tracemalloc.get_traced_memory()[1] - start) / 2**20 if trace else None
        child.send((elapsed, mem.mib, traced, result))

    proc = ctx.Process(target=run)
    proc.start()
    child.close()
    got = parent.recv() if parent.poll(timeout) else None
    proc.join(5)
    if proc.is_alive():
        proc.kill()
        proc.join()
    return got


def hiljade_work(arrays: sites_fast.PointArrays, radius: float) -> Callable[[], tuple]:
    def work() -> tuple:
        found = sites_fast.place(arrays, radius)
        return found.site_of, found.ids, found.lat, found.lon

    return work


def dbscan_work(lat: np.ndarray, lon: np.ndarray, radius: float) -> Callable[[], np.ndarray]:
    def work() -> np.ndarray:
        from sklearn.cluster import DBSCAN

        x = np.radians(np.column_stack([lat, lon]))
        return (
            DBSCAN(eps=radius / EARTH_RADIUS_M, min_samples=1, metric="haversine", algorithm="ball_tree")
            .fit(x)
            .labels_
        )

    return work


def jit_cost() -> str:
    """The compiled loop's first call in a fresh process: with an empty numba cache, then cached."""
    code = (
        "import time; t0 = time.perf_counter(); import numpy as np; "
        "from hiljade.pipeline import sites_fast as f; t1 = time.perf_counter(); "
        "a = f.PointArrays(np.arange(3), np.array([44.8, 44.8001, 44.9]), np.array([20.4, 20.4, 20.5]), "
        "np.full(3, 10.0), np.zeros(3)); FAST and f.place(a, 25.0); t2 = time.perf_counter(); "
        "import re; status = open('/proc/self/status').read(); "
        "rss = int(re.search(r'VmHWM:\\s+(\\d+)', status).group(1)) / 1024; "
        "print(f'{t2 - t1:.2f} {rss:.0f}')"
    )
    out = []
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache, "PYTHONPATH": str(REPO)}
        for fast in (True, True, False):
            command = [sys.executable, "-c", f"FAST = {fast}; {code}"]
            run = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
            out.append(run.stdout.split())
    (cold, cold_rss), (warm, warm_rss), (_, base_rss) = out
    return (
        f"compiled loop, first call in a new process: {cold} s with an empty numba cache "
        f"(max RSS {cold_rss} MiB), {warm} s from the cache (max RSS {warm_rss} MiB; "
        f"{base_rss} MiB without loading numba)"
    )


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
    fast = assign(records, new, radius)
    whole = time.perf_counter() - t0
    t0 = time.perf_counter()
    same = assign(records, new, radius, fast=False) == fast
    whole_ref = time.perf_counter() - t0
    assert same, "assign(): the compiled path differs from the reference"
    costs.sort()
    us = [c * 1e6 for c in costs]
    return (
        f"join against {len(records):,} sites (then {len(engine.by_id):,}): {len(new):,} new sightings "
        f"({joined:,} joined a site, "
        f"{len(new) - joined:,} started one): mean {statistics.fmean(us):.1f} us, median "
        f"{us[len(us) // 2]:.1f} us, p99 {us[int(len(us) * 0.99)]:.1f} us per sighting; loading the "
        f"sites {load_s:.2f} s; assign() with loading {whole:.2f} s (reference engine {whole_ref:.2f} s, "
        "the same sites)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--cameras", type=int, default=150_000)
    parser.add_argument("--hot", type=int, default=100, help="hot-spot cameras with 500 reports each")
    parser.add_argument("--radius", type=float, default=25.0)
    parser.add_argument("--sites", type=int, default=100_000, help="existing sites for the join cost")
    parser.add_argument("--rounds", type=int, default=3, help="alternating timed rounds of both")
    parser.add_argument("--timeout", type=float, default=1200.0, help="seconds for one run of either")
    parser.add_argument("--no-reference", action="store_true", help="skip the pure-Python reference")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()
    cams = cameras(args.cameras, rng)
    truth, lat, lon, prec, times = reports(args.points, cams, args.hot, rng)
    ids = np.arange(args.points, dtype=np.int64)
    arrays = sites_fast.PointArrays(ids, lat, lon, prec, times)
    print(
        f"data: {args.points:,} sightings of {args.cameras:,} cameras ({args.hot} hot spots x 500), "
        f"noise 5-30 m, radius {args.radius:g} m, made in {time.perf_counter() - t0:.1f} s"
    )
    print(jit_cost())
    sites_fast.warm_up()  # before the children fork, so none of them compiles or loads it
    try:  # imported here, before the children fork, as the compiled loop is loaded above
        import sklearn
        import sklearn.cluster  # noqa: F401
    except ImportError:
        sklearn = None
        print(
            "scikit-learn is not installed, so the DBSCAN reference is skipped: "
            "`pip install scikit-learn` (bench-only; hiljade does not depend on it)"
        )
    ours: list[tuple] = []
    theirs: list[tuple] = []
    for n in range(args.rounds):
        got = in_child(hiljade_work(arrays, args.radius), args.timeout)
        ours.append(got)
        print(f"round {n + 1}: hiljade {got[0]:.2f} s, peak RSS +{got[1]:,.0f} MiB", flush=True)
        if sklearn is not None:
            other = in_child(dbscan_work(lat, lon, args.radius), args.timeout)
            if other is None:
                print(f"  DBSCAN: no result within {args.timeout:.0f} s (or out of memory)")
                sklearn = None
                continue
            theirs.append(other)
            print(f"round {n + 1}: DBSCAN {other[0]:.2f} s, peak RSS +{other[1]:,.0f} MiB", flush=True)
    site_of, site_ids, clat, clon = ours[-1][3]
    centres = (np.zeros(site_ids.max() + 1), np.zeros(site_ids.max() + 1))
    centres[0][site_ids], centres[1][site_ids] = clat, clon
    _, far = extents(site_of, lat, lon, centres)
    assert far.max() <= args.radius + 1e-6, far.max()  # every member within the radius of its site's centre
    print("  hiljade: " + describe(site_of, lat, lon, args.radius, truth, centres))
    traced = in_child(hiljade_work(arrays, args.radius), args.timeout, trace=True)
    print(f"hiljade tracemalloc round: {traced[0]:.2f} s, tracemalloc peak +{traced[2]:,.0f} MiB")
    if theirs:
        print(
            f"  DBSCAN (scikit-learn {sklearn.__version__}, haversine, ball_tree, min_samples=1, one core): "
            + describe(theirs[-1][3], lat, lon, args.radius, truth)
        )
        d_traced = in_child(dbscan_work(lat, lon, args.radius), args.timeout, trace=True)
        print(f"DBSCAN tracemalloc round: {d_traced[0]:.2f} s, tracemalloc peak +{d_traced[2]:,.0f} MiB")

    if not args.no_reference:
        points = to_points(lat, lon, prec, times)
        with PeakMemory() as mem:
            t0 = time.perf_counter()
            reference = cluster(points, args.radius, fast=False)
            elapsed = time.perf_counter() - t0
        with PeakMemory() as fast_mem:
            t0 = time.perf_counter()
            fast = cluster(points, args.radius)  # the default: the compiled path from FAST_MIN_POINTS on
            fast_elapsed = time.perf_counter() - t0
        same = reference == fast
        print(
            f"reference cluster(fast=False), pure Python: {elapsed:.1f} s, peak RSS +{mem.mib:,.0f} MiB; "
            f"cluster() on the same Point objects (compiled, with the conversions): {fast_elapsed:.2f} s, "
            f"peak RSS +{fast_mem.mib:,.0f} MiB; {'the same' if same else 'DIFFERENT'} sites "
            f"({len(reference.sites):,}: ids, members in join order, centres bit for bit)"
        )
        assert same, "the compiled path differs from the reference"
        extra_truth, elat, elon, eprec, etimes = reports(100_000, cams, 0, rng)
        new = to_points(elat, elon, eprec, etimes + (EPOCH_2026 - EPOCH_2019), first=len(points))
        print(join_cost(points, new, args.radius, args.sites))

    h_time = statistics.median(r[0] for r in ours)
    h_rss = statistics.median(r[1] for r in ours)
    if not theirs:
        print(f"sites: hiljade {h_time:.2f} s, no DBSCAN result, {args.points} points")
        return
    d_time = statistics.median(r[0] for r in theirs)
    d_rss = statistics.median(r[1] for r in theirs)
    rss_ratio, traced_ratio = d_rss / max(h_rss, 1), d_traced[2] / max(traced[2], 1)
    print(
        f"memory: hiljade peak RSS +{h_rss:,.0f} MiB, tracemalloc +{traced[2]:,.0f} MiB; "
        f"DBSCAN peak RSS +{d_rss:,.0f} MiB, tracemalloc +{d_traced[2]:,.0f} MiB "
        f"(ratios {rss_ratio:.2f}x and {traced_ratio:.2f}x)"
    )
    print(
        f"sites: hiljade {h_time:.2f} s, dbscan {d_time:.1f} s, ratio {d_time / h_time:.2f}x time, "
        f"{min(rss_ratio, traced_ratio):.2f}x memory, {args.points} points"
    )


if __name__ == "__main__":
    main()
