"""Process benchmark: `hiljade process` over 100,000 stored text posts, offline gazetteer, no network.

The posts are the texts of shared/eval/geoparse-dev.jsonl repeated with distinct uris (or, without
../shared, a few texts of our own). Reports posts per second of the whole job (reading posts,
locating, writing sightings and verdicts) on SQLite.

    python bench/process_bench.py [--posts 100000] [--db sqlite:///PATH]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
sys.path.insert(0, str(REPO))

from sqlalchemy import insert  # noqa: E402

from hiljade.harvester.osm_files import read_area  # noqa: E402
from hiljade.models.schema import Post  # noqa: E402
from hiljade.models.store import Store  # noqa: E402
from hiljade.services.gazetteer import read_gazetteer  # noqa: E402
from hiljade.services.process import Processor  # noqa: E402

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=100_000)
    parser.add_argument("--db", default=None)
    args = parser.parse_args()
    sample = texts()
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(args.db or f"sqlite:///{Path(tmp) / 'bench.db'}")
        store.migrate()
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
            for i in range(args.posts)
        ]
        with store.transaction() as conn:
            for start in range(0, len(rows), 5000):
                conn.execute(insert(Post.__table__), rows[start : start + 5000])
        t0 = time.perf_counter()
        gazetteer = read_gazetteer(
            [GEO / f for f in FILES], area=read_area(GEO / "esn_belgrade_boundary.geojson")
        )
        build_s = time.perf_counter() - t0
        processor = Processor(store, gazetteer)
        ids = processor.pending_ids()
        t0 = time.perf_counter()
        done = 0

        def progress(n: int) -> None:
            nonlocal done
            done += n
            if done % 10_000 < n:
                print(f"  {done} posts, {done / (time.perf_counter() - t0):.0f}/s", file=sys.stderr)

        report = processor.run(ids, progress=progress)
        elapsed = time.perf_counter() - t0
        store.close()
    print(f"gazetteer build (in memory): {build_s:.2f} s")
    print(f"process: {report.posts} posts in {elapsed:.1f} s = {report.posts / elapsed:.0f} posts/s")
    print(report.summary())


if __name__ == "__main__":
    main()
