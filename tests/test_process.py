"""`hiljade gazetteer build`, `locate` and `process` end to end, on SQLite and PostgreSQL, with the
small OSM fixture of tests/support/places.py (no ../shared needed) and photos served by a local HTTP
server."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from hiljade.config import load_config
from hiljade.models.posts import save_post
from hiljade.models.schema import Media, PostLocation, Sighting
from hiljade.records import AuthorRecord, MediaRecord, PostRecord
from hiljade.services.store import author_policy, open_store
from tests.support.cli import invoke
from tests.support.config import write_config
from tests.support.http import LocalServer, QuietHandler
from tests.support.photos import jpeg_with_gps
from tests.support.places import AREA, STREETS, distance_m

CROSSING = (44.8157, 20.4623)


@pytest.fixture
def photo_server() -> Iterator[str]:
    photo = jpeg_with_gps(44.8201, 20.4590, size=(32, 32))

    class Handler(QuietHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(photo)))
            self.end_headers()
            self.wfile.write(photo)

    with LocalServer(Handler) as server:
        yield f"127.0.0.1:{server.port}"


def post(
    n: int, text: str, media: tuple[MediaRecord, ...] = (), geo: tuple[float, float] | None = None
) -> PostRecord:
    return PostRecord(
        platform="mastodon",
        server="https://a.example",
        native_id=str(n),
        uri=f"https://a.example/s/{n}",
        created_at=dt.datetime(2024, 5, 1, tzinfo=dt.UTC),
        text=text,
        media=media,
        geo=geo,
        author=AuthorRecord("mastodon", "https://a.example/users/x"),
        fetched_from="test",
    )


@pytest.fixture
def setup(tmp_path: Path, db_url: str, photo_server: str) -> Path:
    (tmp_path / "streets.geojson").write_text(json.dumps(STREETS), encoding="utf-8")
    (tmp_path / "area.geojson").write_text(json.dumps(AREA), encoding="utf-8")
    config = write_config(
        tmp_path, db_url, [], area__boundary=str(tmp_path / "area.geojson"), media__allow_hosts=[photo_server]
    )
    assert invoke(["init"], config=config).exit_code == 0
    result = invoke(["gazetteer", "build", str(tmp_path / "streets.geojson")], config=config)
    assert result.exit_code == 0, result.stderr
    assert "with an area polygon" in result.stderr
    cfg = load_config(config)
    store = open_store(cfg)
    photo = MediaRecord(url=f"http://{photo_server}/photo.jpg", type="image")
    with store.transaction() as conn:
        for record in (
            post(1, "Nova kamera na uglu Dečanske i Makedonske #hiljadekamera"),
            post(2, "Камера у Македонској улици"),
            post(3, "Kamera, vidi sliku", media=(photo,)),
            post(4, "tacno ovde", geo=(44.8140, 20.4600)),
            post(5, "kamera negde u gradu"),
            post(6, "https://www.openstreetmap.org/?mlat=45.2671&mlon=19.8335 Novi Sad"),
        ):
            save_post(conn, record, author_policy(cfg), dt.datetime.now(dt.UTC))
    store.close()
    return config


def sightings(config: Path) -> dict[str, dict]:
    store = open_store(load_config(config))
    with store.connect() as conn:
        rows = conn.execute(select(Sighting.__table__).where(Sighting.chosen.is_(True))).all()
        outcomes = dict(conn.execute(select(PostLocation.post_id, PostLocation.outcome)).all())
        media = conn.execute(select(Media.sha256)).scalars().all()
    store.close()
    return {"chosen": {r.post_id: r for r in rows}, "outcomes": outcomes, "media": media}


def test_process_locates_posts_with_method_precision_and_status(setup: Path) -> None:
    result = invoke(["process"], config=setup)
    assert result.exit_code == 0, result.stderr
    assert "6 posts" in result.stderr and "outside the area" in result.stderr
    assert "; media: 1 downloaded" in result.stderr and "{" not in result.stderr  # not a Python dict
    got = sightings(setup)
    crossing = got["chosen"][1]
    assert crossing.method == "intersection" and crossing.status == "auto"
    assert distance_m((crossing.lat, crossing.lon), CROSSING) < 60
    assert "Dečanske i Makedonske" in crossing.matched
    street = got["chosen"][2]
    assert street.method == "street" and street.status == "pending_review" and street.precision_m > 100
    exif = got["chosen"][3]
    assert exif.method == "exif" and distance_m((exif.lat, exif.lon), (44.8201, 20.4590)) < 5
    assert got["media"][0] and len(got["media"][0]) == 64
    assert got["chosen"][4].method == "platform_geo"
    assert got["outcomes"][5] == "nothing" and 5 not in got["chosen"]
    assert got["outcomes"][6] == "outside_area" and 6 not in got["chosen"]


def test_process_is_idempotent_and_reprocess_redoes_everything(setup: Path) -> None:
    invoke(["process"], config=setup)
    first = sightings(setup)
    again = invoke(["process"], config=setup)
    assert "process: 0 posts" in again.stderr
    redo = invoke(["process", "--reprocess", "--no-media"], config=setup)
    assert "process: 6 posts" in redo.stderr
    after = sightings(setup)
    assert {k: (r.method, r.lat, r.lon) for k, r in after["chosen"].items() if k != 3} == {
        k: (r.method, r.lat, r.lon) for k, r in first["chosen"].items() if k != 3
    }


def test_locate_command_on_stored_and_in_memory_gazetteer(setup: Path, tmp_path: Path) -> None:
    lines = (
        "\n".join(
            json.dumps({"id": i, "text": t})
            for i, t in [
                ("a", "kamera na raskrsnici Decanske i Makedonske"),
                ("b", "nista ovde"),
            ]
        )
        + "\nnot json\n"
    )
    stored = invoke(["locate"], config=setup, input=lines)
    memory = invoke(["locate", "--gazetteer", str(tmp_path / "streets.geojson")], config=setup, input=lines)
    for result in (stored, memory):
        assert result.exit_code == 0, result.stderr
        answers = [json.loads(line) for line in result.stdout.splitlines()]
        assert (
            answers[0]["id"] == "a"
            and answers[0]["method"] == "intersection"
            and answers[0]["status"] == "auto"
        )
        assert set(answers[0]) >= {
            "id",
            "lat",
            "lon",
            "method",
            "precision_m",
            "status",
            "matched",
            "candidates",
        }
        assert answers[1]["lat"] is None and answers[1]["lon"] is None
        assert "error" in answers[2]
        assert "1 bad input" in result.stderr
    one = invoke(["locate", "--text", "ispred Doma omladine"], config=setup)
    answer = json.loads(one.stdout)
    assert (
        answer["method"] in ("landmark", "square")
        and distance_m((answer["lat"], answer["lon"]), (44.8150, 20.4630)) < 100
    )


def test_process_without_gazetteer_places_what_needs_none_and_leaves_streets_waiting(
    tmp_path: Path, db_url: str, photo_server: str
) -> None:
    (tmp_path / "streets.geojson").write_text(json.dumps(STREETS), encoding="utf-8")
    (tmp_path / "area.geojson").write_text(json.dumps(AREA), encoding="utf-8")
    config = write_config(
        tmp_path, db_url, [], area__boundary=str(tmp_path / "area.geojson"), media__allow_hosts=[photo_server]
    )
    assert invoke(["init"], config=config).exit_code == 0
    cfg = load_config(config)
    store = open_store(cfg)
    photo = MediaRecord(url=f"http://{photo_server}/photo.jpg", type="image")
    with store.transaction() as conn:
        for record in (
            post(1, "Nova kamera na uglu Dečanske i Makedonske #hiljadekamera"),
            post(2, "Kamera, vidi sliku", media=(photo,)),
            post(3, "tacno ovde", geo=(44.8140, 20.4600)),
            post(4, "https://www.openstreetmap.org/?mlat=44.8162&mlon=20.4601 kamera"),
            post(5, "kamera 44.8170, 20.4580"),
            post(6, "kamera 8GP2RF86+2C"),
            post(7, "https://www.openstreetmap.org/?mlat=45.2671&mlon=19.8335 Novi Sad"),
        ):
            save_post(conn, record, author_policy(cfg), dt.datetime.now(dt.UTC))
    store.close()
    result = invoke(["process"], config=config)
    assert result.exit_code == 0, result.stderr
    assert "7 posts: 5 located" in result.stderr and "1 outside the area" in result.stderr
    assert result.stderr.count("hiljade gazetteer build") == 1
    assert "1 post waits for the gazetteer" in result.stderr
    got = sightings(config)
    assert {k: r.method for k, r in got["chosen"].items()} == {
        2: "exif", 3: "platform_geo", 4: "map_link", 5: "coordinates", 6: "plus_code"
    }
    assert got["outcomes"][1] == "waiting_gazetteer" and got["outcomes"][7] == "outside_area"
    assert "process: 0 posts" in invoke(["process"], config=config).stderr  # nothing to do without one
    built = invoke(["gazetteer", "build", str(tmp_path / "streets.geojson")], config=config)
    assert built.exit_code == 0 and "1 post waits for the gazetteer" in built.stderr
    assert "`hiljade process` places them" in built.stderr
    again = invoke(["process"], config=config)
    assert "process: 1 post: 1 located" in again.stderr, again.stderr
    got = sightings(config)
    assert got["chosen"][1].method == "intersection" and got["outcomes"][1] == "located"


def test_eval_set_through_the_cli(tmp_path: Path, shared_data: Path, shared_eval: Path) -> None:
    """The dev evaluation set through `hiljade locate --gazetteer`, scored by the shared scorer."""
    geo = shared_data / "belgrade_geo"
    config = write_config(
        tmp_path,
        f"sqlite:///{tmp_path / 'x.db'}",
        [],
        area__boundary=str(geo / "esn_belgrade_boundary.geojson"),
    )
    files = [
        "derived_osm_named_ways_addresses_pois.geojson",
        "osm_pt2matsim_belgrade_terazije.osm",
        "esn_belgrade_street_relations.geojson",
        "gdeziveti_belgrade_opstine_urban11_excerpt.geojson",
    ]
    args = ["locate"] + [a for f in files for a in ("--gazetteer", str(geo / f))]
    result = invoke(args, config=config, input=(shared_eval / "geoparse-dev.jsonl").read_text("utf-8"))
    assert result.exit_code == 0, result.stderr
    predictions = tmp_path / "pred.jsonl"
    predictions.write_text(result.stdout, encoding="utf-8")
    scored = subprocess.run(
        [
            sys.executable,
            str(shared_eval / "score_geoparse.py"),
            str(shared_eval / "geoparse-dev.jsonl"),
            str(predictions),
            "--json",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    score = json.loads(scored.stdout)
    assert score["located_precision"] >= 0.97
    assert score["auto_precision"] >= 0.99
    assert score["recall"] >= 0.90


def test_media_refused_by_the_settings_are_fetched_once_the_settings_allow_them(
    tmp_path: Path, sqlite_url: str, photo_server: str
) -> None:
    (tmp_path / "area.geojson").write_text(json.dumps(AREA), encoding="utf-8")
    config = write_config(tmp_path, sqlite_url, [], area__boundary=str(tmp_path / "area.geojson"))
    assert invoke(["init"], config=config).exit_code == 0
    cfg = load_config(config)
    store = open_store(cfg)
    photo = MediaRecord(url=f"http://{photo_server}/photo.jpg", type="image")
    with store.transaction() as conn:
        for record in (post(1, "Kamera, vidi sliku", media=(photo,)), post(2, "ovde", geo=(44.814, 20.46))):
            save_post(conn, record, author_policy(cfg), dt.datetime.now(dt.UTC))
    store.close()
    first = invoke(["process"], config=config)
    assert first.exit_code == 0 and "media: 1 refused" in first.stderr  # 127.0.0.1 is not allow-listed
    last = first.stderr.strip().splitlines()[-1]  # plain words: no class name, no Python dict
    assert "MediaRefused" not in last and "{" not in last and "process: 2 posts: 1 located" in last, last
    assert 1 not in sightings(config)["chosen"]
    assert "process: 0 posts" in invoke(["process"], config=config).stderr  # same settings: not again
    area = str(tmp_path / "area.geojson")
    config = write_config(tmp_path, sqlite_url, [], area__boundary=area, media__allow_hosts=[photo_server])
    again = invoke(["process"], config=config)
    assert "process: 1 post: 1 located" in again.stderr, again.stderr
    got = sightings(config)
    assert got["chosen"][1].method == "exif" and got["media"][0] and len(got["media"][0]) == 64
