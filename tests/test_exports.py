"""`hiljade export sites|sightings|posts` through the CLI: spreadsheet-safe CSV, RFC 7946 GeoJSON checked
rule by rule, OSM XML read back with pyosmium, the filters, and no author identity unless asked."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import os
import stat
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import osmium
import pytest
from sqlalchemy import select, update

from hiljade.config import load_config
from hiljade.export.filters import parse_bbox, parse_when
from hiljade.export.osm import manufacturer_of, site_tags
from hiljade.models.posts import save_post
from hiljade.models.schema import Post, Sighting, Site
from hiljade.records import AuthorRecord, PostRecord
from hiljade.services.store import author_policy, open_store
from tests.support.cli import invoke
from tests.support.config import write_config

T0 = dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC)
HANDLE = "mila@a.example"
REQUIRED_SITE = ("id", "lat", "lon", "status", "reports", "independent_reports", "camera_count",
                 "camera_type",
                 "camera_mount", "camera_direction", "first_seen", "last_seen")
REQUIRED_SIGHTING = ("id", "post_uri", "site_id", "lat", "lon", "method", "precision_m", "status")


def _post(n: int, text: str, day: int) -> PostRecord:
    return PostRecord(
        platform="mastodon", server="https://a.example", native_id=str(n),
        uri=f"https://a.example/users/mila/statuses/{n}", url=f"https://a.example/@mila/{n}",
        created_at=T0 + dt.timedelta(days=day), text=text,
        author=AuthorRecord("mastodon", "https://a.example/users/mila", handle=HANDLE), fetched_from="test",
    )


def _sighting(post_id: int, lat: float, lon: float, site_id: int | None, **extra: Any) -> dict[str, Any]:
    row = {"post_id": post_id, "chosen": True, "method": "intersection", "lat": lat, "lon": lon,
           "precision_m": 15.0, "confidence": 0.9, "status": "auto", "matched": "Dečanske i Makedonske",
           "span_start": 0, "span_end": 5, "source": "intersection:1", "evidence": {},
           "pipeline_version": "1",
           "created_at": T0, "site_id": site_id}
    row.update(extra)
    return row


def _site(lat: float, lon: float, **extra: Any) -> dict[str, Any]:
    row = {"lat": lat, "lon": lon, "status": "unverified", "reports": 1, "independent_reports": 1,
           "first_seen": T0, "last_seen": T0, "created_at": T0, "updated_at": T0}
    row.update(extra)
    return row


def make_db(tmp_path: Path, db_url: str) -> Path:
    """Five posts (one a formula, one deleted), four sites (one merged, one at a negative longitude)."""
    config = write_config(tmp_path, db_url, [], privacy__store_handles=True)
    assert invoke(["init"], config=config).exit_code == 0
    cfg = load_config(config)
    store = open_store(cfg)
    texts = ['=HYPERLINK("http://x","y")', "Kamera na uglu Dečanske i Makedonske", "-5 kamera, @policija",
             "dve kamere kod Slavije", "obrisano"]
    with store.transaction() as conn:
        for n, text in enumerate(texts):
            save_post(conn, _post(n, text, n), author_policy(cfg), T0)
        post_ids = list(conn.execute(select(Post.id).order_by(Post.id)).scalars())
        assert len(post_ids) == 5
        s = Site.__table__
        site_ids = [conn.execute(s.insert().values(**row).returning(s.c.id)).scalar_one() for row in (
            _site(44.8157, 20.4623, status="verified", reports=3, independent_reports=2, camera_count=2,
                  camera_type="dome", camera_mount="pole", camera_model="IPC6625-Z30", camera_direction=181.6,
                  first_seen=T0, last_seen=T0 + dt.timedelta(days=3), verified_by="ana", verified_at=T0),
            _site(44.8027, 20.4665, first_seen=T0 + dt.timedelta(days=3),
                  last_seen=T0 + dt.timedelta(days=3)),
            _site(51.5007, -0.1246, camera_type="fixed"),
            _site(44.8157, 20.4624, status="merged", reports=0, independent_reports=0),
        )]
        sg = Sighting.__table__
        conn.execute(sg.insert(), [
            _sighting(post_ids[0], 44.8157, 20.4623, site_ids[0]),
            _sighting(post_ids[1], 44.8158, 20.4622, site_ids[0]),
            _sighting(post_ids[1], 44.8100, 20.4500, None, chosen=False, method="street",
                      status="pending_review", precision_m=400.0),
            _sighting(post_ids[2], 51.5007, -0.1246, site_ids[2], method="map_link"),
            _sighting(post_ids[3], 44.8027, 20.4665, site_ids[1], method="landmark", matched="-Slavije"),
            _sighting(post_ids[4], 44.8157, 20.4623, site_ids[0], matched="obrisano tekst"),
        ])
        conn.execute(update(Post.__table__).where(Post.id == post_ids[4])
                     .values(deleted_at=T0 + dt.timedelta(days=9), text=""))
    store.close()
    return config


@pytest.fixture
def config(tmp_path: Path, sqlite_url: str) -> Path:
    return make_db(tmp_path, sqlite_url)


def run(config: Path, *args: str, code: int = 0) -> Any:
    result = invoke(["export", *args], config=config)
    assert result.exit_code == code, result.stderr
    return result


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


# ---- RFC 7946, rule by rule ------------------------------------------------------------------------

def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def rfc7946_problems(text: str) -> list[str]:
    """What makes ``text`` not a valid RFC 7946 FeatureCollection of points (empty when valid)."""
    problems = []
    if text.startswith("\ufeff"):
        problems.append("starts with a byte-order mark (section 11)")

    def no_constant(name: str) -> Any:
        problems.append(f"{name} is not JSON (RFC 8259)")
        return None

    doc = json.loads(text, parse_constant=no_constant)
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        return [*problems, "top level is not a FeatureCollection (3.3)"]
    if "crs" in doc:
        problems.append("has a crs member (4: removed)")
    if not isinstance(doc.get("features"), list):
        return [*problems, "features is not an array (3.3)"]
    for n, feat in enumerate(doc["features"]):
        where = f"feature {n}"
        if not isinstance(feat, dict) or feat.get("type") != "Feature":
            problems.append(f"{where}: type is not Feature (3.2)")
            continue
        if "crs" in feat:
            problems.append(f"{where}: crs member (4)")
        if "geometry" not in feat or "properties" not in feat:
            problems.append(f"{where}: geometry and properties members are required (3.2)")
        if "id" in feat and not (isinstance(feat["id"], str) or _number(feat["id"])):
            problems.append(f"{where}: id is neither a string nor a number (3.2)")
        if feat.get("properties") is not None and not isinstance(feat["properties"], dict):
            problems.append(f"{where}: properties is neither an object nor null (3.2)")
        geom = feat.get("geometry")
        if geom is None:
            continue
        if not isinstance(geom, dict) or geom.get("type") != "Point":
            problems.append(f"{where}: geometry is not a Point")
            continue
        pos = geom.get("coordinates")
        if not isinstance(pos, list) or len(pos) not in (2, 3) or not all(_number(v) for v in pos):
            problems.append(f"{where}: a position is 2 or 3 numbers (3.1.1)")
        elif not (-180 <= pos[0] <= 180 and -90 <= pos[1] <= 90):
            problems.append(f"{where}: position {pos} is not [longitude, latitude] (3.1.1, 4)")
    return problems


def test_validator_catches_what_the_rfc_forbids() -> None:
    good = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [20.46, 44.81]}, "properties": {}}]}
    assert rfc7946_problems(json.dumps(good)) == []
    bad = json.loads(json.dumps(good))
    bad["crs"] = {"type": "name"}
    bad["features"][0]["geometry"]["coordinates"] = ["20.46", 44.81]
    bad["features"].append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [44.81, 120.5]},
                            "properties": None})
    found = rfc7946_problems(json.dumps(bad))
    assert len(found) == 3 and any("crs" in p for p in found)
    assert rfc7946_problems('{"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": '
                            '{"type": "Point", "coordinates": [NaN, 1]}, "properties": {}}]}')


# ---- the tests -------------------------------------------------------------------------------------

def test_formula_post_reads_back_as_text_and_negative_numbers_stay_numbers(config: Path) -> None:
    posts = rows_of(run(config, "posts").stdout)
    assert posts[0]["text"] == '\'=HYPERLINK("http://x","y")'
    assert posts[2]["text"] == "'-5 kamera, @policija"
    sites = rows_of(run(config, "sites", "--format", "csv").stdout)
    london = next(r for r in sites if r["camera_type"] == "fixed")
    assert london["lon"] == "-0.1246" and float(london["lon"]) == -0.1246
    sightings = rows_of(run(config, "sightings").stdout)
    assert {r["matched"] for r in sightings} >= {"'-Slavije"}
    out = config.parent / "posts.csv"
    run(config, "posts", "--excel", "-o", str(out))
    raw = out.read_bytes()
    assert raw.startswith("\ufeff".encode()) and raw.count(b"\r\n") == 5  # RFC 4180 line ends
    assert rows_of(raw.decode("utf-8-sig"))[0]["text"].startswith("'=")


def test_site_and_sighting_columns_and_the_summary_line(config: Path, tmp_path: Path) -> None:
    out = tmp_path / "sites.csv"
    result = run(config, "sites", "-o", str(out))
    assert result.stdout == ""
    assert result.stderr.strip().splitlines()[-1].startswith("export: 3 sites as csv to")
    sites = rows_of(out.read_text("utf-8"))
    assert set(REQUIRED_SITE) <= set(sites[0]) and "camera_model" in sites[0]
    assert "verified_by" not in sites[0]  # a volunteer's name is no partner's business
    first = sites[0]
    assert (first["status"], first["reports"], first["independent_reports"], first["camera_count"],
            first["camera_type"], first["camera_mount"]) == ("verified", "3", "2", "2", "dome", "pole")
    assert [r["status"] for r in sites].count("merged") == 0
    sightings = rows_of(run(config, "sightings").stdout)
    assert set(REQUIRED_SIGHTING) | {"confidence", "matched", "created_at"} <= set(sightings[0])
    assert len(sightings) == 5 and all(r["chosen"] == "True" for r in sightings)
    assert len(rows_of(run(config, "sightings", "--candidates").stdout)) == 6
    for kind in ("sites", "sightings", "posts"):
        assert run(config, kind, "--format", "jsonl").stderr.count("\n") == 1


def test_filters(config: Path) -> None:
    def ids(*args: str) -> list[str]:
        return [r["id"] for r in rows_of(run(config, *args).stdout)]

    assert ids("sites", "--status", "merged") == ["4"]
    assert ids("sites", "--status", "verified", "--status", "unverified") == ["1", "2", "3"]
    assert ids("sites", "--bbox", "20.3,44.7,20.6,44.9") == ["1", "2"]
    assert ids("sites", "--min-reports", "2") == ["1"]
    assert ids("sites", "--since", "2024-05-03") == ["1", "2"]  # last seen on 4 May
    assert ids("sites", "--until", "2024-05-01") == ["1", "3"]  # first seen on 1 May (the whole day counts)
    assert ids("sightings", "--bbox", "-1,51,0,52") == ["4"]
    assert ids("sightings", "--since", "2024-05-02", "--until", "2024-05-03") == ["2", "4"]
    assert ids("sightings", "--min-reports", "2") == ["1", "2", "6"]
    assert ids("sightings", "--status", "pending_review") == []
    assert ids("sightings", "--status", "pending_review", "--candidates") == ["3"]
    posts = rows_of(run(config, "posts", "--bbox", "20.3,44.7,20.6,44.9").stdout)
    assert [p["native_id"] for p in posts] == ["0", "1", "3"]
    result = run(config, "sites", "--bbox", "20.6,44.7,20.3,44.9", code=2)
    assert "minimum exceeds its maximum" in result.stderr
    assert "--bbox" in run(config, "sites", "--bbox", "20.3,44.7", code=2).stderr
    assert "not a date" in run(config, "sites", "--since", "yesterday", code=2).stderr
    assert "since 2024-05-03" in run(config, "sites", "--since", "2024-05-03").stderr


def test_no_author_identity_unless_asked_and_deleted_posts_stay_out(config: Path) -> None:
    for kind in ("sites", "sightings", "posts"):
        for fmt in ("csv", "geojson", "jsonl"):
            text = run(config, kind, "--format", fmt).stdout
            assert "mila" not in text and "obrisano" not in text, (kind, fmt)
    posts = rows_of(run(config, "posts", "--include-authors").stdout)
    assert len(posts) == 4 and all(len(p["author_pseudonym"]) == 64 for p in posts)
    assert posts[0]["author_handle"] == HANDLE and posts[0]["uri"].endswith("/statuses/0")
    sightings = rows_of(run(config, "sightings", "--include-authors").stdout)
    deleted = next(r for r in sightings if r["id"] == "6")
    assert [deleted[k] for k in ("post_uri", "matched", "author_pseudonym", "author_handle")] == [""] * 4
    assert deleted["lat"] == "44.8157"  # the camera is still there
    others = [r for r in sightings if r["id"] != "6"]
    assert all(r["author_handle"] == HANDLE and r["post_uri"].startswith("https://") for r in others)
    assert "with author pseudonyms" in run(config, "sightings", "--include-authors").stderr
    assert "obrisano" not in run(config, "sightings", "--include-authors", "--format", "geojson").stdout


def test_geojson_is_rfc7946(tmp_path: Path, db_url: str) -> None:
    config = make_db(tmp_path, db_url)
    for kind in ("sites", "sightings", "posts"):
        text = run(config, kind, "--format", "geojson").stdout
        assert rfc7946_problems(text) == [], kind
    sites = json.loads(run(config, "sites", "--format", "geojson").stdout)["features"]
    first = sites[0]
    assert first["id"] == 1 and first["geometry"]["coordinates"] == [20.4623, 44.8157]
    assert first["properties"]["reports"] == 3 and first["properties"]["camera_direction"] == 181.6
    assert "lat" not in first["properties"] and first["properties"]["last_seen"].startswith("2024-05-04")
    posts = json.loads(run(config, "posts", "--format", "geojson").stdout)["features"]
    assert [p["geometry"]["coordinates"] for p in posts][:2] == [[20.4623, 44.8157], [20.4622, 44.8158]]
    sightings = json.loads(run(config, "sightings", "--format", "geojson", "--candidates").stdout)
    assert {f["properties"]["chosen"] for f in sightings["features"]} == {True, False}


def test_osm_file_opens_with_pyosmium_and_carries_the_tags(tmp_path: Path, db_url: str) -> None:
    config = make_db(tmp_path, db_url)
    out = tmp_path / "cameras.osm"
    result = run(config, "sites", "--format", "osm", "-o", str(out), "--operator", "МУП Србије")
    assert "export: 3 sites as osm" in result.stderr
    root = ET.parse(out).getroot()
    assert (root.tag, root.get("version"), root.get("generator"), root.get("upload")) == (
        "osm", "0.6", "hiljade", "false")
    nodes = {n.id: (n.location.lat, n.location.lon) for n in osmium.FileProcessor(str(out))}
    tags = {n.id: {t.k: t.v for t in n.tags} for n in osmium.FileProcessor(str(out))}
    assert sorted(nodes) == [-3, -2, -1]
    first = tags[-1]
    assert first["man_made"] == "surveillance" and first["surveillance"] == "public"
    assert first["surveillance:type"] == "camera" and first["camera:type"] == "dome"
    assert first["camera:mount"] == "pole" and first["camera:direction"] == "182"
    assert first["manufacturer"] == "Huawei" and first["model"] == "IPC6625-Z30"
    assert first["operator"] == "МУП Србије" and first["check_date"] == "2024-05-04"
    assert "camera:type" not in tags[-2] and "manufacturer" not in tags[-2]
    assert abs(nodes[-3][1] - -0.1246) < 1e-7 and abs(nodes[-1][0] - 44.8157) < 1e-7


def test_osm_is_for_sites_only(config: Path) -> None:
    """Help offers only the formats a command writes; osm for sightings or posts is a usage error."""
    assert "csv|geojson|osm|jsonl" in run(config, "sites", "--help").stdout
    for kind in ("sightings", "posts"):
        assert "csv|geojson|jsonl]" in run(config, kind, "--help").stdout
        assert "osm" not in run(config, kind, "--help").stdout.split("--format", 1)[1].split("\n", 1)[0]
        result = run(config, kind, "--format", "osm", code=2)
        assert "Invalid value for '--format'" in result.stderr and result.stdout == ""


def test_excel_is_for_csv_only(config: Path) -> None:
    out = config.parent / "sites.geojson"
    for fmt in ("geojson", "jsonl", "osm"):
        result = run(config, "sites", "--format", fmt, "--excel", "-o", str(out), code=2)
        assert "--excel applies to CSV only" in result.stderr and not out.exists()
    assert run(config, "sites", "--format", "csv", "--excel").stdout.startswith("\ufeff")


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_export_files_get_the_users_umask(config: Path, umask: int) -> None:
    old = os.umask(umask)
    try:
        out = config.parent / "sites.csv"
        run(config, "sites", "-o", str(out))
        sheet = config.parent / "sites.geojson"
        run(config, "sites", "--format", "geojson", "-o", str(sheet))
        copy = config.parent / "copy.db"
        invoke(["export", "database", "-o", str(copy)], config=config)
    finally:
        os.umask(old)
    for path in (out, sheet, copy, copy.with_name("copy.metadata.json"), config.parent / "LICENCE.txt"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask, path


def test_a_failed_export_leaves_no_partial_file(tmp_path: Path) -> None:
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'none.db'}", [])
    out = tmp_path / "sites.csv"
    out.write_text("old", encoding="utf-8")
    result = invoke(["export", "sites", "-o", str(out)], config=config, catch_exceptions=True)
    assert result.exit_code == 1 and "hiljade init" in result.stderr
    assert out.read_text("utf-8") == "old" and [p.name for p in tmp_path.glob(".sites.csv*")] == []


def test_pure_parts() -> None:
    assert parse_bbox(" 20.3, 44.7 ,20.6,44.9") == (20.3, 44.7, 20.6, 44.9)
    for bad in ("1,2,3", "a,b,c,d", "200,0,210,1", "0,0,nan,1"):
        with pytest.raises(ValueError):
            parse_bbox(bad)
    assert parse_when("2024-05-01", end=True) == dt.datetime(2024, 5, 2, tzinfo=dt.UTC)
    assert parse_when("2024-05-01T14:00+02:00") == dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC)
    assert manufacturer_of("IPC6225-VRZ-ES") == "Huawei" and manufacturer_of("DS-2CD2143") is None
    tags = site_tags({"id": 9, "camera_direction": 359.7, "camera_count": 3, "camera_type": "dome\n<x>"})
    assert tags["camera:direction"] == "0" and tags["camera:type"] == "dome <x>"
    assert "3 cameras" in tags["note"]


def test_numbers_and_dates_out_of_range_are_usage_errors(config: Path) -> None:
    for args, words in [(("--until", "9999-12-31"), "out of range"),
                        (("--since", "0001-01-01T00:00+01:00"), "out of range"),
                        (("--min-reports", "99999999999999999999999"), "--min-reports")]:
        for what in ("sites", "sightings", "posts"):
            result = run(config, what, *args, code=2)  # a usage error, never a traceback
            assert words in result.stderr and "Traceback" not in result.stderr, (what, args)
    assert [r["id"] for r in rows_of(run(config, "sites", "--until", "9999-12-30").stdout)] == ["1", "2", "3"]
    with pytest.raises(ValueError, match="out of range"):
        parse_when("9999-12-31", end=True)


def test_exports_carry_the_openstreetmap_attribution(tmp_path: Path, config: Path) -> None:
    """Positions found with OpenStreetMap data are under the ODbL: the GeoJSON says so at its top
    level, and every export written to a file gets LICENCE.txt beside it (issue 9, item 3)."""
    for kind in ("sites", "sightings", "posts"):
        doc = json.loads(run(config, kind, "--format", "geojson").stdout)
        assert doc["attribution"] == "© OpenStreetMap contributors", kind
        assert doc["license"] == "ODbL-1.0" and doc["license_url"].startswith("https://opendatacommons.org/")
    out = tmp_path / "exports" / "sites.csv"
    out.parent.mkdir()
    result = run(config, "sites", "-o", str(out))
    licence = (out.parent / "LICENCE.txt").read_text("utf-8")
    assert "© OpenStreetMap contributors" in licence and "ODbL-1.0" in licence
    assert "attribution in LICENCE.txt" in result.stderr
    assert rows_of(out.read_text("utf-8"))[0]["id"] == "1"  # the CSV itself keeps its columns
