"""Process benchmark: `hiljade process` over 50,000 stored text posts, offline gazetteer, SQLite.

The posts are the texts of shared/eval/geoparse-dev.jsonl repeated with distinct uris. Times the
whole job (finding the pending posts, reading them, locating, writing sightings and verdicts) with
one worker and with two, and, in the same rounds, its peer: the pure ``locate`` calls alone over the
same texts on one core, so the ratio shows what reading, writing and orchestration add (or what the
workers win back). Rounds alternate; medians are reported.

    python bench/process_bench.py [--posts 50000] [--rounds 3] [--db sqlite:///PATH] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import json
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
sys.path.insert(0, str(REPO))

from sqlalchemy import delete, insert  # noqa: E402

from hiljade.defaults import DEFAULTS  # noqa: E402
from hiljade.harvester.osm_files import read_area  # noqa: E402
from hiljade.models.schema import Post, PostLocation, Sighting  # noqa: E402
from hiljade.models.store import Store  # noqa: E402
from hiljade.pipeline.locate import locate  # noqa: E402
from hiljade.services.gazetteer import read_gazetteer  # noqa: E402
from hiljade.services.process import Processor  # noqa: E402
from hiljade.services.process_locate import usable_workers  # noqa: E402

GEO = SHARED / "data" / "belgrade_geo"
FILES = [
    "derived_osm_named_ways_addresses_pois.geojson",
    "osm_pt2matsim_belgrade_terazije.osm",
    "esn_belgrade_street_relations.geojson",
    "gdeziveti_belgrade_opstine_urban11_excerpt.geojson",
]


def texts() -> list[str]:
    path = SHARED / "eval" / "geoparse-dev.jsonl"
    if not path.exists():
        sys.exit("this benchmark needs ../shared (the eval texts and the Belgrade OSM extracts)")
    return [json.loads(line)["text"] for line in path.read_text("utf-8").splitlines() if line.strip()]


def store_posts(store: Store, sample: list[str], count: int) -> list[str]:
    now = dt.datetime.now(dt.UTC)
    rows = [
        {
            "platform": "bench",
            "server": "bench",
            "native_id": str(i),
            "uri": f"bench:{i}",
            "url": None,
            "created_at": now,
            "text": sample[i % len(sample)],
            "language": "sr",
            "hashtags": [],
            "raw": {},
            "fetched_from": "bench",
            "fetched_at": now,
        }
        for i in range(count)
    ]
    with store.transaction() as conn:
        for start in range(0, len(rows), 5000):
            conn.execute(insert(Post.__table__), rows[start : start + 5000])
    return [row["text"] for row in rows]


def process_once(store: Store, gazetteer: object, workers: int, profile: bool = False) -> tuple[float, int]:
    """Seconds for one whole process job over every post (the previous run's rows removed first)."""
    with store.transaction() as conn:
        conn.execute(delete(Sighting.__table__))
        conn.execute(delete(PostLocation.__table__))
    profiler = cProfile.Profile() if profile else None
    t0 = time.perf_counter()
    if profiler:
        profiler.enable()
    processor = Processor(store, gazetteer, workers=workers)  # type: ignore[arg-type]
    report = processor.run(processor.pending_ids())
    if profiler:
        profiler.disable()
    elapsed = time.perf_counter() - t0
    if profiler:
        stats = pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative")
        stats.print_stats(
            r"process\.py|process_locate|locations\.py|locate\.py:\d+\(locate\)|\(executemany\)"
        )
    return elapsed, report.posts


def cpu_seconds() -> tuple[float, float]:
    """CPU seconds used so far by this process, and by its finished children (the workers)."""
    now = os.times()
    return now.user + now.system, now.children_user + now.children_system


def locate_once(all_texts: list[str], gazetteer: object) -> float:
    t0 = time.perf_counter()
    for text in all_texts:
        locate(text, gazetteer)  # type: ignore[arg-type]
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--db", default=None)
    parser.add_argument("--profile", action="store_true", help="profile one run with one worker (stderr)")
    args = parser.parse_args()
    sample = texts()
    default = usable_workers(DEFAULTS["process"]["workers"])
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(args.db or f"sqlite:///{Path(tmp) / 'bench.db'}")
        store.migrate()
        all_texts = store_posts(store, sample, args.posts)
        t0 = time.perf_counter()
        gazetteer = read_gazetteer(
            [GEO / f for f in FILES], area=read_area(GEO / "esn_belgrade_boundary.geojson")
        )
        print(f"gazetteer build (in memory): {time.perf_counter() - t0:.2f} s")
        if args.profile:
            process_once(store, gazetteer, 1, profile=True)
        seconds: dict[str, list[float]] = {"locate": [], "workers=1": [], "workers=2": []}
        cpu: dict[str, list[tuple[float, float]]] = {name: [] for name in seconds}
        for n in range(args.rounds):
            before = cpu_seconds()
            seconds["locate"].append(locate_once(all_texts, gazetteer))
            cpu["locate"].append(tuple(b - a for a, b in zip(before, cpu_seconds(), strict=True)))  # type: ignore[arg-type]
            for workers in (1, 2) if n % 2 == 0 else (2, 1):
                before = cpu_seconds()
                elapsed, posts = process_once(store, gazetteer, workers)
                used = tuple(b - a for a, b in zip(before, cpu_seconds(), strict=True))
                assert posts == args.posts, f"processed {posts} of {args.posts} posts"
                seconds[f"workers={workers}"].append(elapsed)
                cpu[f"workers={workers}"].append(used)  # type: ignore[arg-type]
            print(
                "round", n + 1, ", ".join(f"{k} {v[-1]:.2f} s" for k, v in seconds.items()), file=sys.stderr
            )
        store.close()
    # CPU time is what a busy machine changes least: this process (reading, writing, and locating
    # with one worker) and the worker processes
    for name, used in cpu.items():
        mine, workers = (statistics.median(part) for part in zip(*used, strict=True))
        print(
            f"cpu {name}: {mine:.2f} s here + {workers:.2f} s in workers, "
            f"{args.posts / (mine + workers):.0f} posts per cpu-s"
        )
    rate = {name: args.posts / statistics.median(values) for name, values in seconds.items()}
    for name in ("workers=1", "workers=2"):
        print(f"process {name}: {rate[name]:.0f} posts/s ({rate[name] / rate['locate']:.2f}x locate alone)")
    hiljade = rate[f"workers={min(default, 2)}"]
    print(
        f"process: hiljade {hiljade:.0f} posts/s, locate alone {rate['locate']:.0f} posts/s, "
        f"ratio {hiljade / rate['locate']:.2f}x, {args.posts} posts"
    )


if __name__ == "__main__":
    main()
