"""Reconciliation benchmark: import an official list of 10,000 rows and reconcile it with 100,000 sites.

Synthetic, seeded data (no ../shared needed): --sites verified sites over Belgrade (44.70-44.90 N,
20.30-20.60 E, 60% around the centre); --rows official rows, 60% of them 5-40 m from a site (the
same camera on the police list) and the rest anywhere, written as a CSV with coordinates and an
address column; a gazetteer of 16 named areas (a 4 x 4 grid) inside the area polygon. Steps timed:
the list import (`services.official.import_list`: read, place, one transaction), the pure matching
(`pipeline.reconcile.reconcile`, per-area counts included) and the whole `reconcile` service (load
sites and rows, match, store every pair), on SQLite (and PostgreSQL with --pg URL).

    python bench/reconcile_bench.py [--sites 100000] [--rows 10000] [--radius 50] [--pg postgresql://...]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from shapely.geometry import box, mapping
from sqlalchemy import insert, text

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from hiljade.config import load_config  # noqa: E402
from hiljade.models.schema import Site  # noqa: E402
from hiljade.pipeline.geometry import M_PER_DEG  # noqa: E402
from hiljade.pipeline.reconcile import Located, reconcile  # noqa: E402
from hiljade.services.gazetteer import build_gazetteer, newest_gazetteer  # noqa: E402
from hiljade.services.official import import_list  # noqa: E402
from hiljade.services.reconcile import Comparison, named_areas, reconcile_sites  # noqa: E402
from hiljade.services.store import init, open_store  # noqa: E402

BBOX = (44.70, 20.30, 44.90, 20.60)  # south, west, north, east
CENTRE = (44.8125, 20.4612)


def positions(n: int, rng: np.random.Generator) -> np.ndarray:
    """n positions (lat, lon): 60% around the centre, 40% anywhere in the bbox."""
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


def official(sites: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """n official positions: 60% within 5-40 m of a site, the rest anywhere."""
    near = int(n * 0.6)
    base = sites[rng.choice(len(sites), near, replace=False)]
    dist, angle = rng.uniform(5.0, 40.0, near), rng.uniform(0, 2 * math.pi, near)
    lat = base[:, 0] + dist * np.cos(angle) / M_PER_DEG
    lon = base[:, 1] + dist * np.sin(angle) / (M_PER_DEG * np.cos(np.radians(base[:, 0])))
    return np.concatenate([np.column_stack([lat, lon]), positions(n - near, rng)])


def write_files(folder: Path, rows: np.ndarray) -> tuple[Path, Path, Path]:
    """The area polygon, a gazetteer file of 16 named areas, and the official list as CSV."""
    south, west, north, east = BBOX
    area = folder / "area.geojson"
    area.write_text(
        json.dumps(
            {
                "type": "Feature",
                "properties": {},
                "geometry": mapping(box(west - 0.01, south - 0.01, east + 0.01, north + 0.01)),
            }
        )
    )
    features = []
    for i in range(4):
        for j in range(4):
            cell = box(
                west + (east - west) * j / 4,
                south + (north - south) * i / 4,
                west + (east - west) * (j + 1) / 4,
                south + (north - south) * (i + 1) / 4,
            )
            features.append(
                {
                    "type": "Feature",
                    "id": f"relation/{i * 4 + j + 1}",
                    "geometry": mapping(cell),
                    "properties": {"name": f"Opština {i * 4 + j + 1}", "boundary": "administrative"},
                }
            )
    gazetteer = folder / "areas.geojson"
    gazetteer.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    listing = folder / "policija.csv"
    with listing.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, delimiter=";")
        writer.writerow(["rb", "lokacija", "lat", "lon"])
        for i, (lat, lon) in enumerate(rows.tolist(), start=1):
            writer.writerow(
                [i, f"Kamera {i}", f"{lat:.6f}".replace(".", ","), f"{lon:.6f}".replace(".", ",")]
            )
    return area, gazetteer, listing


def add_sites(store: object, sites: np.ndarray) -> None:
    now = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
    rows = [
        {
            "id": i,
            "lat": lat,
            "lon": lon,
            "status": "verified",
            "reports": 1,
            "independent_reports": 1,
            "created_at": now,
            "updated_at": now,
        }
        for i, (lat, lon) in enumerate(sites.tolist(), start=1)
    ]
    with store.transaction() as conn:  # type: ignore[attr-defined]
        for start in range(0, len(rows), 10_000):
            conn.execute(insert(Site.__table__), rows[start : start + 10_000])


def run(url: str, folder: Path, sites: np.ndarray, rows: np.ndarray, radius: float) -> dict[str, float]:
    area, gazetteer, listing = write_files(folder, rows)
    config_path = folder / "config.yaml"
    config_path.write_text(
        json.dumps(
            {
                "database": {"url": url},
                "hashtags": ["hiljadekamera"],
                "area": {"boundary": str(area)},
                "privacy": {"secret_file": str(folder / "hiljade.secret")},
                "gazetteer": {"local_names": []},
            }
        )
    )
    config = load_config(str(config_path))
    init(config)
    store = open_store(config)
    build_gazetteer(config, store, [gazetteer])
    add_sites(store, sites)
    times: dict[str, float] = {}
    start = time.perf_counter()
    imported = import_list(
        config, store, listing, name="policija", columns=("lat=lat", "lon=lon", "address=lokacija")
    )
    times["import"] = time.perf_counter() - start
    print(f"  import: {len(rows):,} rows in {times['import']:.2f} s ({imported.counts})")
    _, gaz = newest_gazetteer(config, store)
    areas = named_areas(gaz)
    site_points = [Located(i, a, b) for i, (a, b) in enumerate(sites.tolist(), start=1)]
    other_points = [Located(i, a, b) for i, (a, b) in enumerate(rows.tolist(), start=1)]
    start = time.perf_counter()
    result = reconcile(site_points, other_points, radius, areas=areas)
    times["match"] = time.perf_counter() - start
    print(f"  matching alone (pure, with {len(areas)} areas): {times['match']:.2f} s {result.counts}")
    start = time.perf_counter()
    stored = reconcile_sites(config, store, Comparison("official", "policija"), radius_m=radius)
    times["reconcile"] = time.perf_counter() - start
    print(
        f"  reconcile service (load, match, store {len(stored.reconciliation.pairs):,} pairs): "
        f"{times['reconcile']:.2f} s"
    )
    print(f"  {stored.summary()}")
    store.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=100_000)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--radius", type=float, default=50.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--pg", default=None, help="also run on this PostgreSQL database (emptied first)")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    sites = positions(args.sites, rng)
    rows = official(sites, args.rows, rng)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        print(f"SQLite: {args.rows:,} official rows against {args.sites:,} sites, radius {args.radius:g} m")
        results["sqlite"] = run(f"sqlite:///{tmp}/bench.db", Path(tmp), sites, rows, args.radius)
    if args.pg:
        store = open_store(load_config(None, overrides={"database.url": args.pg}), check=False)
        with store.transaction() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        store.close()
        with tempfile.TemporaryDirectory() as tmp:
            print("PostgreSQL:")
            results["postgresql"] = run(args.pg, Path(tmp), sites, rows, args.radius)
    line = ", ".join(
        f"{name} import {t['import']:.2f} s, matching {t['match']:.2f} s, whole {t['reconcile']:.2f} s"
        for name, t in results.items()
    )
    print(
        f"reconcile: hiljade {results['sqlite']['match']:.2f} s for {args.rows:,} rows vs "
        f"{args.sites:,} sites; "
        f"{line}"
    )


if __name__ == "__main__":
    main()
