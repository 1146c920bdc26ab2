"""`hiljade process` with worker processes (`process.workers`) stores exactly what one process stores:
the same sightings, verdicts, media and posts, on SQLite and PostgreSQL; the bulk statements store what
SQLAlchemy's own insert stores, to the byte; a run stopped between batches, or killed while writing
one, keeps exactly the batches it committed, and the next run completes them without doubles."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from shapely.geometry import shape
from sqlalchemy import delete, insert, select, update

from hiljade.config import load_config
from hiljade.errors import ConfigError, GeocoderError
from hiljade.harvester.osm_files import read_area
from hiljade.models.schema import Media, Post, PostLocation, Sighting
from hiljade.models.store import Store
from hiljade.pipeline.gazetteer import Gazetteer
from hiljade.records import Candidate
from hiljade.services import process_locate
from hiljade.services.gazetteer import read_gazetteer
from hiljade.services.process import Processor, workers_setting
from hiljade.services.process_locate import evidence_json
from tests.support.paths import REPO
from tests.support.photos import jpeg_with_gps
from tests.support.places import AREA, STREETS

NOW = dt.datetime(2024, 5, 2, 8, 30, tzinfo=dt.UTC)
PHOTO = jpeg_with_gps(44.8201, 20.4590, size=(16, 16))
TEMPLATES = (
    "Nova kamera na uglu Dečanske i Makedonske #hiljadekamera",
    "Камера у Македонској улици",
    "kamera kod Doma omladine",
    "kamera negde u gradu",
    "https://www.openstreetmap.org/?mlat=45.2671&mlon=19.8335 Novi Sad",
    "kamera na 44.8150, 20.4610",
    "tacno ovde",
    "Kamera u Nepoznatoj ulici",
    "Kamera u Zaboravljenoj ulici",
    "",
)


def geocode(query: str) -> list[Candidate]:
    """A stand-in geocoder: it knows one street, fails for another, finds nothing for the rest."""
    if "Zaboravljenoj" in query:
        raise GeocoderError("the geocoder did not answer")
    if "Nepoznatoj" in query:
        evidence = {"query": query, "ids": {7}, "when": NOW}  # a set and a time: JSON has no word for them
        return [
            Candidate(44.81, 20.45, "geocoder", 80.0, 0.5, "pending_review", matched=query, evidence=evidence)
        ]
    return []


def fetch(url: str) -> tuple[str, bytes]:
    return hashlib.sha256(PHOTO).hexdigest(), PHOTO


def add_posts(store: Store, texts: list[str]) -> None:
    """Posts of ``texts``, some with platform coordinates, stored EXIF readings or a photo, and
    reviewed or manual sightings that a run never replaces."""
    posts, media = [], []
    for i, text in enumerate(texts):
        raw: dict[str, Any] = {"n": i}
        if i % 9 == 4:
            raw["media_exif"] = [{"lat": 44.8149, "lon": 20.4612, "file": "a.jpg", "sha256": "ab" * 32}]
        geo = (44.8140, 20.4600) if i % 10 == 6 else (None, None)
        posts.append(
            {
                "id": i + 1,
                "platform": "test",
                "server": "test",
                "native_id": str(i),
                "uri": f"test:{i}",
                "url": None,
                "created_at": NOW,
                "text": text,
                "language": "sr",
                "hashtags": [],
                "raw": raw,
                "fetched_from": "test",
                "fetched_at": NOW,
                "geo_lat": geo[0],
                "geo_lon": geo[1],
            }
        )
        if i % 13 == 5:
            media.append(
                {"post_id": i + 1, "position": 0, "url": f"https://photos.example/{i}.jpg", "type": "image"}
            )
    reviewed = [
        {"post_id": 2, "chosen": True, "method": "manual", "status": "confirmed", "reviewed_by": "ana"},
        {"post_id": 3, "chosen": False, "method": "street", "status": "rejected", "reviewed_by": "ana"},
        {"post_id": 12, "chosen": True, "method": "intersection", "status": "confirmed", "reviewed_by": None},
    ]
    with store.transaction() as conn:
        conn.execute(insert(Post.__table__), posts)
        conn.execute(insert(Media.__table__), media)
        conn.execute(
            insert(Sighting.__table__),
            [
                row
                | {
                    "lat": 44.815,
                    "lon": 20.462,
                    "precision_m": 5.0,
                    "confidence": 1.0,
                    "matched": "by hand",
                    "source": "review",
                    "evidence": {},
                    "pipeline_version": "review",
                    "created_at": NOW,
                }
                for row in reviewed
            ],
        )


def reset(store: Store) -> None:
    """Back to before any process run: no pipeline sightings or verdicts, no photo downloaded."""
    s, m = Sighting.__table__, Media.__table__
    with store.transaction() as conn:
        conn.execute(delete(s).where(s.c.pipeline_version != "review"))
        conn.execute(delete(PostLocation.__table__))
        conn.execute(update(m).values(sha256=None, phash=None, exif=None, downloaded_at=None))


def dump(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """Every stored row a run writes, in order (sightings without their autoincrement id)."""
    s = Sighting.__table__
    with store.connect() as conn:
        return {
            "sightings": [
                tuple(r) for r in conn.execute(select(*[c for c in s.c if c.name != "id"]).order_by(s.c.id))
            ],
            "post_locations": [
                tuple(r) for r in conn.execute(select(PostLocation.__table__).order_by("post_id"))
            ],
            "media": [tuple(r) for r in conn.execute(select(Media.__table__).order_by("id"))],
            "posts": [tuple(r) for r in conn.execute(select(Post.__table__).order_by("id"))],
        }


def run(store: Store, gazetteer: Gazetteer, workers: int, **options: Any) -> Counter[str]:
    processor = Processor(
        store,
        gazetteer,
        gazetteer_build=options.pop("build", 1),
        geocode=options.pop("geocode", None),
        fetch_media=options.pop("fetch_media", None),
        clock=lambda: NOW,
        workers=workers,
        parallel_from=0,
    )
    return processor.run(processor.pending_ids(), batch=options.pop("batch", 25), **options).outcomes


def same_rows_with_one_and_two_workers(store: Store, gazetteer: Gazetteer, **options: Any) -> dict[str, Any]:
    reset(store)
    outcomes_one = run(store, gazetteer, 1, **dict(options))
    one = dump(store)
    reset(store)
    outcomes_two = run(store, gazetteer, 2, **dict(options))
    assert dump(store) == one
    assert outcomes_two == outcomes_one
    return one


@pytest.fixture
def small_places(tmp_path: Path) -> Gazetteer:
    (tmp_path / "streets.geojson").write_text(json.dumps(STREETS), encoding="utf-8")
    return read_gazetteer([tmp_path / "streets.geojson"], area=shape(AREA))


def test_two_workers_store_the_same_rows_as_one_on_a_synthetic_set(
    db_url: str, small_places: Gazetteer
) -> None:
    store = Store(db_url)
    store.migrate()
    add_posts(store, [TEMPLATES[i % len(TEMPLATES)] for i in range(260)])
    rows = same_rows_with_one_and_two_workers(store, small_places, geocode=geocode, fetch_media=fetch)
    outcomes = Counter(row[3] for row in rows["post_locations"])
    assert set(outcomes) == {"located", "pending_review", "nothing", "outside_area", "waiting_geocoder"}
    methods = Counter(row[2] for row in rows["sightings"])
    assert {"intersection", "street", "exif", "platform_geo", "geocoder", "manual"} <= set(methods)
    assert all(row[4] for row in rows["media"]), "every photo downloaded and hashed"
    placed = [row for row in rows["sightings"] if row[0] == 12 and row[1]]
    assert [row[2] for row in placed] == ["intersection"] and placed[0][
        13
    ] == "review"  # the reviewer's stays
    store.close()


def test_without_a_gazetteer_build_the_rows_are_the_same_too(db_url: str, small_places: Gazetteer) -> None:
    store = Store(db_url)
    store.migrate()
    add_posts(store, [TEMPLATES[i % len(TEMPLATES)] for i in range(120)])
    rows = same_rows_with_one_and_two_workers(store, small_places, build=None, batch=40)
    assert "waiting_gazetteer" in {row[3] for row in rows["post_locations"]}
    store.close()


def test_two_workers_store_the_same_rows_as_one_on_the_dev_texts(
    db_url: str, shared_data: Path, shared_eval: Path
) -> None:
    geo = shared_data / "belgrade_geo"
    files = [
        "derived_osm_named_ways_addresses_pois.geojson",
        "osm_pt2matsim_belgrade_terazije.osm",
        "esn_belgrade_street_relations.geojson",
        "gdeziveti_belgrade_opstine_urban11_excerpt.geojson",
    ]
    gazetteer = read_gazetteer(
        [geo / f for f in files], area=read_area(geo / "esn_belgrade_boundary.geojson")
    )
    lines = (shared_eval / "geoparse-dev.jsonl").read_text("utf-8").splitlines()
    texts = [json.loads(line)["text"] for line in lines if line.strip()]
    store = Store(db_url)
    store.migrate()
    add_posts(store, texts * 2)
    rows = same_rows_with_one_and_two_workers(store, gazetteer, batch=60)
    assert len(rows["post_locations"]) == 2 * len(texts)
    assert sum(row[1] for row in rows["sightings"]) > len(texts)  # most dev texts are placed
    store.close()


def test_a_run_stopped_between_batches_loses_and_doubles_nothing(
    db_url: str, small_places: Gazetteer
) -> None:
    store = Store(db_url)
    store.migrate()
    add_posts(store, [TEMPLATES[i % len(TEMPLATES)] for i in range(200)])
    run(store, small_places, 2, geocode=geocode, batch=30)
    whole = dump(store)
    reset(store)
    asked = []

    def stop_after_two() -> bool:
        asked.append(1)
        return len(asked) > 2

    run(store, small_places, 2, geocode=geocode, batch=30, should_stop=stop_after_two)
    stopped = dump(store)
    assert [row[0] for row in stopped["post_locations"]] == list(
        range(1, 61)
    )  # two batches, the one read ahead not
    run(store, small_places, 2, geocode=geocode, batch=30)
    assert dump(store) == whole
    store.close()


def test_few_posts_start_no_worker(
    sqlite_url: str, small_places: Gazetteer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_pool(method: str) -> None:
        raise AssertionError("a pool was started for a handful of posts")

    monkeypatch.setattr(process_locate.multiprocessing, "get_context", no_pool)
    store = Store(sqlite_url)
    store.migrate()
    add_posts(store, list(TEMPLATES) * 2)
    processor = Processor(store, small_places, gazetteer_build=1, workers=2)
    assert processor.run(processor.pending_ids()).posts == 2 * len(TEMPLATES)
    store.close()


def test_the_workers_setting(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("process:\n  workers: 1\n", "utf-8")
    assert workers_setting(load_config(tmp_path / "config.yaml", environ={})) == 1
    assert (
        workers_setting(load_config(tmp_path / "config.yaml", environ={"HILJADE_PROCESS_WORKERS": "3"})) == 3
    )
    with pytest.raises(
        ConfigError, match="process.workers: must be a whole number of at least 1 \\(got 0\\)"
    ):
        workers_setting(load_config(tmp_path / "config.yaml", environ={"HILJADE_PROCESS_WORKERS": "0"}))
    assert 1 <= process_locate.usable_workers(64) <= 64


def test_evidence_is_json_as_the_column_would_write_it() -> None:
    assert (
        evidence_json({"a": [1, 2.5, None, True], "b": ("x",)}) == '{"a": [1, 2.5, null, true], "b": ["x"]}'
    )
    assert evidence_json({1: {3}, None: NOW}) == '{"1": [3], "None": "2024-05-02 08:30:00+00:00"}'


def test_the_bulk_writer_stores_what_a_core_insert_stores(db_url: str, small_places: Gazetteer) -> None:
    """The statements written once per dialect bind every value as the columns' types would: the
    rows read back and stored again through SQLAlchemy's own insert are the same to the byte."""
    store = Store(db_url)
    store.migrate()
    add_posts(store, [TEMPLATES[i % len(TEMPLATES)] for i in range(60)])
    run(store, small_places, 1, geocode=geocode, fetch_media=fetch)
    s, pl = Sighting.__table__, PostLocation.__table__
    columns = ", ".join(c.name for c in s.c if c.name != "id")
    raw_sightings = f"SELECT {columns} FROM sightings WHERE pipeline_version <> 'review' ORDER BY id"
    raw_verdicts = "SELECT * FROM post_locations ORDER BY post_id"
    with store.transaction() as conn:
        written = (
            [tuple(r) for r in conn.exec_driver_sql(raw_sightings)],
            [tuple(r) for r in conn.exec_driver_sql(raw_verdicts)],
        )
        pipeline = s.c.pipeline_version != "review"
        typed = [dict(r._mapping) for r in conn.execute(select(s).where(pipeline).order_by(s.c.id))]
        verdicts = [dict(r._mapping) for r in conn.execute(select(pl).order_by(pl.c.post_id))]
        conn.execute(delete(s).where(pipeline))
        conn.execute(delete(pl))
        conn.execute(insert(s), [{k: v for k, v in row.items() if k != "id"} for row in typed])
        conn.execute(insert(pl), verdicts)
    with store.connect() as conn:
        again = (
            [tuple(r) for r in conn.exec_driver_sql(raw_sightings)],
            [tuple(r) for r in conn.exec_driver_sql(raw_verdicts)],
        )
    assert len(written[0]) > 40 and again == written
    store.close()


# A process run killed outright (SIGKILL) while its third batch is written, before that batch commits.
KILLED_RUN = """
import datetime as dt, json, os, signal, sys
from shapely.geometry import shape
from hiljade.models.store import Store
from hiljade.services.gazetteer import read_gazetteer
from hiljade.services.process import Processor

url, streets, area = sys.argv[1:4]
store = Store(url)
places = read_gazetteer([streets], area=shape(json.loads(area)))
now = dt.datetime(2024, 5, 2, 8, 30, tzinfo=dt.UTC)
processor = Processor(store, places, gazetteer_build=1, clock=lambda: now, workers=2, parallel_from=0)
insert = processor.locations.insert
written = []

def insert_then_die(*args):
    insert(*args)
    written.append(1)
    if len(written) == 3:
        os.kill(os.getpid(), signal.SIGKILL)

processor.locations.insert = insert_then_die
processor.run(processor.pending_ids(), batch=30)
"""


def test_a_killed_run_loses_and_doubles_nothing(db_url: str, small_places: Gazetteer, tmp_path: Path) -> None:
    store = Store(db_url)
    store.migrate()
    add_posts(store, [TEMPLATES[i % len(TEMPLATES)] for i in range(200)])
    run(store, small_places, 2, batch=30)
    whole = dump(store)
    reset(store)
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_RUN, db_url, str(tmp_path / "streets.geojson"), json.dumps(AREA)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert [row[0] for row in dump(store)["post_locations"]] == list(
        range(1, 61)
    )  # the third batch rolled back
    run(store, small_places, 2, batch=30)
    assert dump(store) == whole
    store.close()
