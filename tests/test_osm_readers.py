"""Reading OSM files: GeoJSON, Overpass JSON, OSM XML, PBF, CSV name lists, and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import osmium
import pytest

from hiljade.errors import GazetteerDataError, HiljadeError
from hiljade.harvester.osm_files import read_features
from tests.support.gazetteer import STREETS, write_osm_xml


def _write(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data, ensure_ascii=False), "utf-8")
    return path


def test_geojson_collection_feature_and_bare_geometry(tmp_path: Path) -> None:
    line = {"type": "LineString", "coordinates": [[20.46, 44.81], [20.47, 44.81]]}
    multi = {"type": "MultiLineString", "coordinates": [[[20.46, 44.81], [20.47, 44.81]]]}
    poly = {
        "type": "Polygon",
        "coordinates": [[[20.46, 44.81], [20.47, 44.81], [20.47, 44.82], [20.46, 44.81]]],
    }
    mpoly = {"type": "MultiPolygon", "coordinates": [poly["coordinates"]]}
    point = {"type": "Point", "coordinates": [20.46, 44.81]}
    feats = [
        {
            "type": "Feature",
            "id": "way/7",
            "properties": {"name": "Дечанска", "highway": "secondary"},
            "geometry": line,
        },
        {
            "type": "Feature",
            "properties": {"@id": "relation/8", "name": "A", "details": {"x": 1}},
            "geometry": multi,
        },
        {"type": "Feature", "properties": {"osm_type": "way", "osm_id": 9, "name": "B"}, "geometry": poly},
        {"type": "Feature", "properties": {"name": "C"}, "geometry": mpoly},
        {"type": "Feature", "properties": {"name": "D", "empty": None}, "geometry": point},
    ]
    got = read_features(_write(tmp_path / "a.geojson", {"type": "FeatureCollection", "features": feats}))
    assert [f.geometry.geom_type for f in got] == [
        "LineString",
        "MultiLineString",
        "Polygon",
        "MultiPolygon",
        "Point",
    ]
    assert [(f.osm_type, f.osm_id) for f in got] == [
        ("way", 7),
        ("relation", 8),
        ("way", 9),
        (None, None),
    ] + [(None, None)]
    assert got[1].tags == {"name": "A"} and got[2].tags == {"name": "B"}
    one = read_features(_write(tmp_path / "one.json", feats[0]))
    assert len(one) == 1 and one[0].tags["name"] == "Дечанска"
    bare = read_features(_write(tmp_path / "bare.json", mpoly))
    assert len(bare) == 1 and bare[0].tags == {} and bare[0].geometry.geom_type == "MultiPolygon"


def test_overpass_json_with_geometry_and_with_separate_nodes(tmp_path: Path) -> None:
    with_geom = {
        "elements": [
            {
                "type": "way",
                "id": 1,
                "tags": {"name": "Македонска", "highway": "secondary"},
                "geometry": [{"lat": 44.81, "lon": 20.46}, {"lat": 44.82, "lon": 20.46}],
            },
            {
                "type": "relation",
                "id": 2,
                "tags": {"type": "multipolygon", "name": "Park", "leisure": "park"},
                "members": [
                    {
                        "type": "way",
                        "ref": 3,
                        "role": "outer",
                        "geometry": [
                            {"lat": 44.80, "lon": 20.40},
                            {"lat": 44.80, "lon": 20.41},
                            {"lat": 44.81, "lon": 20.41},
                            {"lat": 44.80, "lon": 20.40},
                        ],
                    }
                ],
            },
            {"type": "relation", "id": 4, "tags": {"type": "route", "name": "Bus 31"}, "members": []},
        ]
    }
    got = read_features(_write(tmp_path / "over.json", with_geom))
    assert [(f.osm_type, f.osm_id, f.geometry.geom_type) for f in got] == [
        ("way", 1, "LineString"),
        ("relation", 2, "Polygon"),
    ]
    nodes = {
        "elements": [
            {"type": "node", "id": 1, "lat": 44.81, "lon": 20.46},
            {"type": "node", "id": 2, "lat": 44.82, "lon": 20.46},
            {
                "type": "node",
                "id": 3,
                "lat": 44.815,
                "lon": 20.465,
                "tags": {"name": "Дом омладине", "amenity": "x"},
            },
            {"type": "way", "id": 5, "nodes": [1, 2], "tags": {"name": "Македонска", "highway": "secondary"}},
        ]
    }
    got = read_features(_write(tmp_path / "nodes.json", nodes))
    assert {(f.osm_type, f.tags["name"]) for f in got} == {("node", "Дом омладине"), ("way", "Македонска")}
    way = next(f for f in got if f.osm_type == "way")
    assert list(way.geometry.coords) == [(20.46, 44.81), (20.46, 44.82)]


def test_osm_xml_builds_ways_and_areas_from_node_refs(tmp_path: Path) -> None:
    building = (
        9,
        {"building": "yes", "name": "Зграда"},
        [(20.40, 44.80), (20.41, 44.80), (20.41, 44.81), (20.40, 44.80)],
    )
    unnamed = (10, {"highway": "service"}, [(20.40, 44.80), (20.42, 44.80)])
    path = write_osm_xml(tmp_path / "town.osm", [*STREETS[:3], building, unnamed])
    got = read_features(path)
    assert [(f.osm_id, f.geometry.geom_type) for f in got] == [
        (101, "LineString"),
        (102, "LineString"),
        (103, "LineString"),
        (9, "Polygon"),
    ]
    assert got[0].tags["old_name"] == "Моше Пијаде"
    assert list(got[0].geometry.coords) == STREETS[0][2]


def test_pbf_through_pyosmium(tmp_path: Path) -> None:
    path = tmp_path / "town.osm.pbf"
    writer = osmium.SimpleWriter(str(path))
    try:
        writer.add_node(osmium.osm.mutable.Node(id=1, location=(20.46, 44.81)))
        writer.add_node(osmium.osm.mutable.Node(id=2, location=(20.47, 44.81)))
        writer.add_node(
            osmium.osm.mutable.Node(id=3, location=(20.465, 44.812), tags={"name": "Lilly", "shop": "x"})
        )
        writer.add_way(
            osmium.osm.mutable.Way(id=10, nodes=[1, 2], tags={"name": "Дечанска", "highway": "primary"})
        )
        writer.add_relation(
            osmium.osm.mutable.Relation(
                id=20, members=[("w", 10, "street")], tags={"type": "street", "name": "Дечанска"}
            )
        )
    finally:
        writer.close()
    got = read_features(path)
    assert [(f.osm_type, f.osm_id, f.geometry.geom_type) for f in got] == [
        ("node", 3, "Point"),
        ("way", 10, "LineString"),
        ("relation", 20, "LineString"),
    ]
    assert list(got[1].geometry.coords) == [(20.46, 44.81), (20.47, 44.81)]


def test_csv_name_list(tmp_path: Path) -> None:
    path = tmp_path / "names.csv"
    path.write_text('name,source\n"Таковска",x\n"",y\nКнеза Милоша,\n', "utf-8")
    got = read_features(path)
    assert [f.tags["name"] for f in got] == ["Таковска", "Кнеза Милоша"] and got[0].geometry is None


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("broken.geojson", "{not json", "cannot read"),
        ("meta.json", '{"update": "2026"}', "neither GeoJSON nor Overpass"),
        ("x.osm", "<data></data>", "without an <osm> root"),
        ("y.osm", "<osm><node id='1'", "cannot read"),
        ("far.geojson", '{"type": "Point", "coordinates": [500000, 4960000]}', "not WGS84"),
        ("noname.csv", "street\nA\n", "without a 'name' column"),
        ("blob.bin", "\x00\x01binary", "unknown format"),
    ],
)
def test_unreadable_files_raise_a_clear_error(tmp_path: Path, name: str, content: str, reason: str) -> None:
    path = tmp_path / name
    path.write_text(content, "utf-8")
    with pytest.raises(GazetteerDataError) as err:
        read_features(path)
    assert str(path) in str(err.value) and reason in str(err.value)
    assert isinstance(err.value, HiljadeError)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(GazetteerDataError, match="missing.osm"):
        read_features(tmp_path / "missing.osm")


def test_real_belgrade_files(shared_data: Path) -> None:
    geo = shared_data / "belgrade_geo"
    derived = read_features(geo / "derived_osm_named_ways_addresses_pois.geojson")
    kinds = [f.tags.get("kind") for f in derived]
    assert (kinds.count("street"), kinds.count("address"), kinds.count("poi")) == (291, 86, 32)
    xml = read_features(geo / "osm_pt2matsim_belgrade_terazije.osm")
    named_highways = [f for f in xml if "highway" in f.tags and f.osm_type == "way" and "name" in f.tags]
    assert len(named_highways) == 43 and len({f.tags["name"] for f in named_highways}) == 13
    assert sum("addr:housenumber" in f.tags for f in xml) == 86
    boundary = read_features(geo / "esn_belgrade_boundary.geojson", keep=lambda tags: True)
    assert boundary[0].geometry.geom_type == "MultiPolygon" and boundary[0].geometry.is_valid
    with pytest.raises(GazetteerDataError, match="esn_belgrade_metadata.json"):
        read_features(geo / "esn_belgrade_metadata.json")
