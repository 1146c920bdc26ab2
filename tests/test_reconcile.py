"""Reconciliation: the pure one-to-one matching (hypothesis), OSM surveillance nodes, the command."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import random
from pathlib import Path
from urllib.parse import parse_qs
from xml.etree import ElementTree

import numpy as np
import osmium
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import box, mapping
from sqlalchemy import insert, select

from hiljade.errors import GazetteerDataError
from hiljade.harvester.osm_surveillance import read_surveillance, surveillance_query
from hiljade.models.schema import Site
from hiljade.models.schema_reconcile import OfficialList, OfficialRow, Reconciliation
from hiljade.models.store import Store
from hiljade.pipeline.geometry import distance_m
from hiljade.pipeline.reconcile import BOTH, NOT_PLACED, ONLY_CITIZENS, ONLY_OTHER, Located, match, reconcile
from tests.support.cli import cli, invoke
from tests.support.config import write_config
from tests.support.http import LocalServer, QuietHandler

LAT0, LON0 = 44.8, 20.46


def _points(first_id: int) -> st.SearchStrategy[list[Located]]:
    """Points a few hundred metres apart around Belgrade, on a coarse grid so that ties happen."""
    offset = st.integers(min_value=0, max_value=40).map(lambda k: k * 0.0002)
    return st.lists(st.tuples(offset, offset), max_size=25).map(
        lambda xs: [Located(first_id + i, LAT0 + a, LON0 + b) for i, (a, b) in enumerate(xs)]
    )


radii = st.sampled_from([5.0, 25.0, 50.0, 200.0])


@settings(max_examples=150, deadline=None)
@given(_points(1), _points(1000), radii)
def test_matching_is_one_to_one_and_within_the_radius(sites, others, radius):
    pairs = match(sites, others, radius)
    assert len({s for s, _, _ in pairs}) == len(pairs) == len({o for _, o, _ in pairs})
    site_at, other_at = {s.id: s for s in sites}, {o.id: o for o in others}
    for sid, oid, d in pairs:
        assert d <= radius
        s, o = site_at[sid], other_at[oid]
        assert abs(distance_m(s.lat, s.lon, o.lat, o.lon) - d) < 0.01 * radius


@settings(max_examples=150, deadline=None)
@given(_points(1), _points(1000), radii, st.lists(st.integers(5000, 5100), max_size=5))
def test_counts_are_symmetric(sites, others, radius, not_placed):
    result = reconcile(sites, others, radius, not_placed=not_placed)
    c = result.counts
    assert c[BOTH] + c[ONLY_CITIZENS] == len(sites) == c["sites"]
    assert c[BOTH] + c[ONLY_OTHER] == len(others) == c["others"]
    assert c[NOT_PLACED] == len(set(not_placed))
    assert all(p.kind != BOTH or p.distance_m <= radius for p in result.pairs)


@settings(max_examples=100, deadline=None)
@given(_points(1), _points(1000), radii, st.randoms(use_true_random=False))
def test_result_does_not_depend_on_input_order(sites, others, radius, rnd):
    first = reconcile(sites, others, radius)
    shuffled_sites, shuffled_others = list(sites), list(others)
    rnd.shuffle(shuffled_sites)
    rnd.shuffle(shuffled_others)
    again = reconcile(shuffled_sites, shuffled_others, radius)
    assert sorted(first.pairs, key=repr) == sorted(again.pairs, key=repr)


@settings(max_examples=100, deadline=None)
@given(_points(1), _points(1000), radii)
def test_no_unmatched_pair_is_left_within_the_radius(sites, others, radius):
    """Greedy matching is maximal: an unmatched site and an unmatched other are never within reach."""
    result = reconcile(sites, others, radius)
    alone_sites = [s for s in sites if s.id in {p.site_id for p in result.pairs if p.kind == ONLY_CITIZENS}]
    alone_others = [o for o in others if o.id in {p.other_id for p in result.pairs if p.kind == ONLY_OTHER}]
    for s in alone_sites:
        for o in alone_others:
            assert distance_m(s.lat, s.lon, o.lat, o.lon) > radius * 0.999


def test_two_others_equally_far_tie_the_same_whatever_the_order():
    """Hypothesis found it: the others at +0.0064 and +0.0028 of longitude lie equally far from site 3
    (mathematically; in floating point to an ulp), and the scale of a degree came from the others'
    mean latitude summed in their given order, so its last bit, and with it the pair, hung on that
    order. Every order whose plain float mean differs is tried."""
    sites = [Located(1, 44.8, 20.46), Located(2, 44.8, 20.46), Located(3, 44.803, 20.4646)]
    steps = [(0.0, 0.0)] * 17 + [(0.0002, 0.0), (0.001, 0.0), (0.001, 0.0), (0.0042, 0.0064), (0.0, 0.0)]
    steps.append((0.0042, 0.0028))
    others = [Located(1000 + i, LAT0 + a, LON0 + b) for i, (a, b) in enumerate(steps)]
    orders = {}
    rnd = random.Random(3)
    for _ in range(50_000):
        shuffled = list(others)
        rnd.shuffle(shuffled)
        orders.setdefault(float(np.mean([o.lat for o in shuffled])), shuffled)
    assert len(orders) >= 3  # orders whose float mean differs in the last bit
    first = sorted(reconcile(sites, others, 200.0).pairs, key=repr)
    for shuffled in orders.values():
        assert sorted(reconcile(sites, shuffled, 200.0).pairs, key=repr) == first


def test_nearest_pair_first_and_ties_by_id():
    # one official point between two sites: the nearer site wins; equal distances go to the lower id
    sites = [
        Located(2, LAT0, LON0 + 0.0003),
        Located(1, LAT0, LON0 - 0.0001),
        Located(3, LAT0, LON0 + 0.0001),
    ]
    others = [Located(10, LAT0, LON0)]
    assert [(s, o) for s, o, _ in match(sites, others, 50)] == [(1, 10)]
    result = reconcile(sites, others, 50)
    assert {(p.kind, p.site_id) for p in result.pairs} == {(BOTH, 1), (ONLY_CITIZENS, 2), (ONLY_CITIZENS, 3)}


def test_pairs_are_counted_per_named_area():
    west = box(LON0 - 0.01, LAT0 - 0.01, LON0, LAT0 + 0.01)
    east = box(LON0, LAT0 - 0.01, LON0 + 0.01, LAT0 + 0.01)
    sites = [Located(1, LAT0, LON0 - 0.005), Located(2, LAT0, LON0 + 0.005)]
    others = [
        Located(10, LAT0, LON0 - 0.00501),
        Located(11, LAT0 + 0.005, LON0 + 0.005),
        Located(12, 45.5, 21.0),
    ]
    result = reconcile(sites, others, 50, not_placed=[13], areas=[("Zapad", west), ("Istok", east)])
    assert result.areas == {
        "Istok": {BOTH: 0, ONLY_CITIZENS: 1, ONLY_OTHER: 1},
        "Zapad": {BOTH: 1, ONLY_CITIZENS: 0, ONLY_OTHER: 0},
    }
    assert [p.area for p in result.pairs if p.other_id == 12] == [None]
    assert result.counts == {"sites": 2, "others": 3, BOTH: 1, ONLY_CITIZENS: 1, ONLY_OTHER: 2, NOT_PLACED: 1}


# --- OSM surveillance nodes and the commands --------------------------------------------------------

AGENT = "hiljade-tests/0.1 (tests@example.org)"
CITY = box(20.40, 44.75, 20.55, 44.85)  # the area: min_lon, min_lat, max_lon, max_lat
WEST, EAST = box(20.40, 44.75, 20.46, 44.85), box(20.46, 44.75, 20.55, 44.85)
OSM_XML = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="test">
  <node id="101" lat="44.8000000" lon="20.4300000">
    <tag k="man_made" v="surveillance"/><tag k="surveillance:type" v="camera"/>
    <tag k="camera:type" v="fixed"/><tag k="operator" v="МУП"/>
  </node>
  <node id="102" lat="44.8100000" lon="20.5000000">
    <tag k="man_made" v="surveillance"/><tag k="camera:type" v="dome"/>
  </node>
  <node id="103" lat="44.8200000" lon="20.5000000"><tag k="amenity" v="bench"/></node>
  <node id="104" lat="44.8200000" lon="20.5100000"/>
</osm>
"""
OVERPASS_ANSWER = {
    "version": 0.6,
    "elements": [
        {
            "type": "node",
            "id": 201,
            "lat": 44.8,
            "lon": 20.43,
            "tags": {"man_made": "surveillance", "surveillance:type": "camera", "camera:mount": "pole"},
        },
    ],
}


class _Overpass(QuietHandler):
    def do_POST(self) -> None:  # noqa: N802 - the http.server API
        length = int(self.headers.get("Content-Length", "0"))
        self.server.seen.append(parse_qs(self.rfile.read(length).decode())["data"][0])  # type: ignore[attr-defined]
        body = json.dumps(OVERPASS_ANSWER).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _area_files(folder: Path) -> tuple[Path, Path]:
    """The area polygon, and a gazetteer file with two named areas (west and east) and the city."""
    area = folder / "area.geojson"
    area.write_text(json.dumps({"type": "Feature", "properties": {}, "geometry": mapping(CITY)}))
    features = [
        {
            "type": "Feature",
            "id": f"relation/{i}",
            "geometry": mapping(geom),
            "properties": {"name": name, "boundary": "administrative", "admin_level": "9"},
        }
        for i, (name, geom) in enumerate((("Zapad", WEST), ("Istok", EAST), ("Grad", CITY)), start=1)
    ]
    features.append(
        {
            "type": "Feature",
            "id": "way/9",
            "properties": {"highway": "residential", "name": "Takovska"},
            "geometry": {"type": "LineString", "coordinates": [[20.47, 44.81], [20.48, 44.81]]},
        }
    )
    gazetteer = folder / "areas.geojson"
    gazetteer.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return area, gazetteer


def _setup(tmp_path: Path, db_url: str, **extra: object) -> Path:
    area, gazetteer = _area_files(tmp_path)
    config = write_config(tmp_path, db_url, [], area__boundary=str(area), user_agent=AGENT, **extra)
    assert cli(config, "init")[0] == 0
    assert cli(config, "gazetteer", "build", str(gazetteer))[0] == 0
    return config


def _add_sites(db_url: str, sites: list[tuple[int, float, float, str]]) -> None:
    now = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
    store = Store(db_url)
    with store.transaction() as conn:
        conn.execute(
            insert(Site.__table__),
            [
                {
                    "id": i,
                    "lat": lat,
                    "lon": lon,
                    "status": status,
                    "reports": 1,
                    "independent_reports": 1,
                    "camera_type": "dome",
                    "created_at": now,
                    "updated_at": now,
                    "last_seen": now,
                }
                for i, lat, lon, status in sites
            ],
        )
    store.close()


def _add_official(db_url: str, name: str, rows: list[tuple[int, float | None, float | None, str]]) -> None:
    now = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
    store = Store(db_url)
    with store.transaction() as conn:
        list_id = conn.execute(
            insert(OfficialList.__table__)
            .values(name=name, file_name="list.csv", sha256="0" * 64, imported_at=now, counts={})
            .returning(OfficialList.__table__.c.id)
        ).scalar_one()
        conn.execute(
            insert(OfficialRow.__table__),
            [
                {
                    "list_id": list_id,
                    "line": line,
                    "original": f"row {line}",
                    "lat": lat,
                    "lon": lon,
                    "status": status,
                }
                for line, lat, lon, status in rows
            ],
        )
    store.close()


def test_osm_file_import_keeps_only_surveillance_nodes_and_is_idempotent(
    tmp_path: Path, sqlite_url: str
) -> None:
    config = _setup(tmp_path, sqlite_url)
    path = tmp_path / "cameras.osm"
    path.write_text(OSM_XML, encoding="utf-8")
    code, _, err = cli(config, "osm", "surveillance", "import", str(path))
    assert code == 0, err
    assert err.strip().splitlines()[-1] == (
        f"osm surveillance: 2 nodes read from {path}: 2 new, 0 changed, 0 unchanged"
    )
    code, _, err = cli(config, "osm", "surveillance", "import", str(path))
    assert err.strip().endswith("0 new, 0 changed, 2 unchanged")
    nodes = {n.osm_id: n for n in read_surveillance(path)}
    assert nodes[101].tags["operator"] == "МУП" and nodes[101].tags["camera:type"] == "fixed"


def test_pbf_and_junk_files(tmp_path: Path) -> None:
    pbf = tmp_path / "cameras.osm.pbf"
    writer = osmium.SimpleWriter(str(pbf))
    writer.add_node(
        osmium.osm.mutable.Node(
            id=7, location=(20.43, 44.8), tags={"man_made": "surveillance", "camera:mount": "wall"}
        )
    )
    writer.add_node(osmium.osm.mutable.Node(id=8, location=(20.44, 44.8), tags={"shop": "bakery"}))
    writer.close()
    assert [(n.osm_type, n.osm_id, n.tags["camera:mount"]) for n in read_surveillance(pbf)] == [
        ("node", 7, "wall")
    ]
    junk = tmp_path / "junk.json"
    junk.write_text("{not json", encoding="utf-8")
    with pytest.raises(GazetteerDataError, match="cannot read it"):
        read_surveillance(junk)


def test_fetch_asks_overpass_for_the_areas_surveillance_nodes(tmp_path: Path, sqlite_url: str) -> None:
    with LocalServer(_Overpass, seen=[]) as server:
        config = _setup(tmp_path, sqlite_url, gazetteer__overpass_url=f"{server.url}/api/interpreter")
        out = tmp_path / "surveillance.json"
        code, _, err = cli(config, "osm", "surveillance", "import", str(out), "--fetch")
    assert code == 0, err
    assert err.strip().endswith("1 node read from " + str(out) + ": 1 new, 0 changed, 0 unchanged")
    assert server.seen == [surveillance_query(CITY.bounds)]
    assert '[bbox:44.75,20.4,44.85,20.55];\nnode["man_made"="surveillance"];' in server.seen[0]


def test_reconcile_with_an_official_list_per_area_stored_and_exported(tmp_path: Path, db_url: str) -> None:
    config = _setup(tmp_path, db_url)
    _add_sites(
        db_url,
        [
            (1, 44.80, 20.43, "verified"),  # west, matches official line 2
            (2, 44.81, 20.50, "verified"),  # east, alone
            (3, 44.82, 20.50, "unverified"),  # not compared by default
        ],
    )
    _add_official(
        db_url,
        "policija-2026",
        [
            (2, 44.80015, 20.43, "placed"),  # 17 m from site 1
            (3, 44.83, 20.52, "placed"),  # east, alone
            (4, None, None, "street_only"),
            (5, None, None, "not_placed"),
            (6, 44.80015, 20.43, "duplicate"),
        ],
    )
    code, out, err = cli(config, "reconcile", "--with", "official:policija-2026")
    assert code == 0, err
    assert err.strip().splitlines()[-1] == (
        "reconcile: 2 sites vs 2 official: 1 in both, 1 only citizens, 1 only official, "
        "2 official rows not placed"
    )
    assert out.splitlines() == [
        "Istok: 0 in both, 1 only citizens, 1 only official",
        "Zapad: 1 in both, 0 only citizens, 0 only official",
    ]
    code, out, err = cli(config, "export", "reconcile", "--with", "official:policija-2026")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["class"], r["site_id"], r["other_ref"], r["area"]) for r in rows] == [
        ("both", "1", "line 2", "Zapad"),
        ("only_citizens", "2", "", "Istok"),
        ("only_other", "", "line 3", "Istok"),
        ("not_placed", "", "line 4", ""),
        ("not_placed", "", "line 5", ""),
    ]
    assert 16 < float(rows[0]["distance_m"]) < 18
    code, out, _ = cli(
        config, "export", "reconcile", "--with", "official:policija-2026", "--format", "geojson"
    )
    features = json.loads(out)["features"]
    assert [f["geometry"]["coordinates"] if f["geometry"] else None for f in features][:3] == [
        [20.43, 44.8],
        [20.5, 44.81],
        [20.52, 44.83],
    ]
    # a wider radius and every status: the same command again replaces the stored result
    code, _, err = cli(
        config,
        "reconcile",
        "--with",
        "official:policija-2026",
        "--radius",
        "3000",
        "--status",
        "verified",
        "--status",
        "unverified",
    )
    assert (
        err.strip()
        .splitlines()[-1]
        .startswith("reconcile: 3 sites vs 2 official: 2 in both, 1 only citizens")
    )
    store = Store(db_url)
    with store.connect() as conn:
        stored = conn.execute(select(Reconciliation.__table__)).mappings().all()
    store.close()
    assert len(stored) == 1 and stored[0]["radius_m"] == 3000 and stored[0]["counts"]["both"] == 2


def test_reconcile_refuses_an_unknown_list_and_bad_input(tmp_path: Path, sqlite_url: str) -> None:
    config = _setup(tmp_path, sqlite_url)
    code, _, err = cli(config, "reconcile", "--with", "official:nope")
    assert code == 2 and "no official list called nope (imported: none yet)" in err
    code, _, err = cli(config, "reconcile", "--with", "elsewhere")
    assert code == 2 and "give official:NAME (an imported list) or osm" in err
    code, _, err = cli(config, "export", "reconcile", "--with", "osm")
    assert code == 1 and "run `hiljade reconcile --with osm` first" in err
    assert invoke(["reconcile", "--with", "osm", "--radius", "0"], config=config).exit_code == 2


def test_reconcile_with_osm_and_the_josm_file(tmp_path: Path, sqlite_url: str) -> None:
    config = _setup(tmp_path, sqlite_url)
    _add_sites(sqlite_url, [(1, 44.80005, 20.43, "verified"), (2, 44.84, 20.52, "verified")])
    path = tmp_path / "cameras.osm"
    path.write_text(OSM_XML, encoding="utf-8")
    assert cli(config, "osm", "surveillance", "import", str(path))[0] == 0
    code, _, err = cli(config, "reconcile", "--with", "osm")
    assert (
        err.strip().splitlines()[-1]
        == "reconcile: 2 sites vs 2 OSM nodes: 1 in both, 1 only citizens, 1 only OSM"
    )
    code, out, err = cli(config, "export", "reconcile", "--with", "osm", "--format", "osm")
    assert code == 0, err
    assert err.strip().endswith("1 new node for JOSM to stdout, 1 match with differing tags listed in it")
    root = ElementTree.fromstring(out)
    assert root.get("upload") == "false"
    assert [(n.get("id"), n.get("lat")) for n in root.iter("node")] == [("-2", "44.8400000")]
    assert "site 1 matches node/101" in out and "camera:type: site dome, OSM fixed" in out
    code, _, err = cli(config, "export", "reconcile", "--with", "official:x", "--format", "osm")
    assert code == 2
