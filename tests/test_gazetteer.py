"""The gazetteer: kinds of entries, merged streets, intersections, rows round trip, the area."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import shapely
from shapely.geometry import Point

from hiljade.config import load_config
from hiljade.errors import GazetteerDataError
from hiljade.harvester.osm_files import local_names_path, read_area, read_local_names, read_osm_files
from hiljade.pipeline.gazetteer import Gazetteer
from hiljade.pipeline.gazetteer_build import build_gazetteer
from hiljade.pipeline.geometry import LocalProjection
from hiljade.pipeline.geoparser import parse
from hiljade.pipeline.local_names import KINDS, add_local_names
from hiljade.pipeline.normalize import keys
from hiljade.services.gazetteer import local_name_files, read_gazetteer
from tests.support.gazetteer import (
    AREA,
    DECANSKA_17_OKTOBRA,
    DECANSKA_MAKEDONSKA,
    STREETS,
    belgrade_gazetteer,
    write_osm_xml,
    write_town,
)


@pytest.fixture
def town(tmp_path: Path) -> Gazetteer:
    return build_gazetteer(read_osm_files(write_town(tmp_path)), area=AREA)


def _entries(gaz: Gazetteer, kind: str, name: str) -> list:
    return [e for e in gaz.entries if e.kind == kind and e.name == name]


def test_kinds_of_entries(town: Gazetteer) -> None:
    counts = town.counts()
    assert counts["street"] == 9  # eight names, Гочка twice
    assert counts["address"] == 6 and counts["area"] == 2
    assert {e.name for e in town.entries if e.kind == "square"} == {"Трг републике", "Сквер Мике Аласа"}
    assert {e.name for e in town.entries if e.kind == "landmark"} == {
        "Дом омладине Београда",
        "Дом Омладине",
        "Lilly",
        "Морнар",
    }
    assert {e.name for e in town.entries if e.kind == "known"} == {
        "Булевар ослобођења",
        "Таковска",
        "Кнеза Милоша",
        "Трг Николе Пашића",
    }


def test_ways_of_one_street_merge_and_far_namesakes_stay_apart(town: Gazetteer) -> None:
    (decanska,) = _entries(town, "street", "Дечанска")
    assert decanska.geometry.geom_type == "LineString"  # two ways, one line
    assert decanska.properties["length_m"] == pytest.approx(0.006 * town.projection.kx, rel=1e-3)
    lat, lon = decanska.point  # the middle of the street, on it
    assert town.distance_to(town.entries.index(decanska), lat, lon) < 0.5
    assert {"Моше Пијаде", "Moše Pijade", "Dečanska"} <= set(decanska.variants)
    assert decanska.properties["variant_tags"]["Moše Pijade"] == "old_name:sr-Latn"
    gocka = _entries(town, "street", "Гочка")
    assert len(gocka) == 2 and all(e.properties["same_name"] == 2 for e in gocka)


def test_intersections_are_where_streets_meet(town: Gazetteer) -> None:
    by_name = {e.name: e for e in town.entries if e.kind == "intersection"}
    point = by_name["Дечанска / Македонска"].geometry
    assert (
        town.projection.to_metric(point).distance(
            town.projection.to_metric(Point(DECANSKA_MAKEDONSKA[1], DECANSKA_MAKEDONSKA[0]))
        )
        < 1.0
    )
    assert "Дечанска / Седамнаестог октобра" in by_name
    assert "Кнеза Михаила / Дечанска" in by_name or "Дечанска / Кнеза Михаила" in by_name
    assert not any("Гочка" in n for n in by_name)  # Гочка crosses nothing
    assert all(e.properties["points"] == 1 for e in by_name.values())
    lat, lon = DECANSKA_17_OKTOBRA
    (e,) = [e for e in by_name.values() if "Седамнаестог" in e.name and "Дечанска" in e.name]
    assert abs(e.geometry.y - lat) < 1e-6 and abs(e.geometry.x - lon) < 1e-6


def test_names_and_addresses_are_indexed(town: Gazetteer) -> None:
    assert any(g.keys == keys("Moše Pijade") for g in town.by_first["mos"])
    assert any(g.keys == ("#17", "oktobr") for g in town.by_first["#17"])
    assert set(town.addresses[keys("Дечанска")]) >= {"5", "8a", "~8", "~5"}
    assert town.addresses[keys("Вука Караџића")]["6"]  # a street known only by its addresses
    landmark = _entries(town, "landmark", "Дом омладине Београда")[0]
    assert "Дом омладине" in landmark.variants and landmark.properties["tags"]["addr:housenumber"] == "22"
    assert _entries(town, "landmark", "Дом Омладине")[0].properties["stop"] is True


def test_rows_round_trip_through_json(town: Gazetteer) -> None:
    rows = town.to_rows()
    assert all(set(r) == {"kind", "name", "variants", "geometry", "properties"} for r in rows)
    assert all(r["geometry"] is None or isinstance(r["geometry"], str) for r in rows)
    stored = [
        {**r, "variants": json.dumps(r["variants"]), "properties": json.dumps(r["properties"])}
        for r in json.loads(json.dumps(rows))
    ]
    again = Gazetteer.from_rows(stored)
    assert again.to_rows() == rows
    assert again.area.equals(town.area) and again.counts() == town.counts()
    assert set(again.intersections.values()) and len(again.intersections) == len(town.intersections)


def test_contains_and_metres(town: Gazetteer, tmp_path: Path) -> None:
    assert town.contains(44.815, 20.462) and not town.contains(45.25, 19.84)
    no_area = build_gazetteer(read_osm_files(write_town(tmp_path / "b")))
    assert no_area.contains(45.25, 19.84)  # no area: everything is in
    proj = LocalProjection(44.8, 20.46)
    assert proj.to_metric(Point(20.46, 44.801)).y == pytest.approx(111.195, abs=0.01)
    back = proj.to_wgs84(proj.to_metric(Point(20.47, 44.83)))
    assert back.x == pytest.approx(20.47) and back.y == pytest.approx(44.83)


def test_same_element_in_two_files_is_taken_once(tmp_path: Path) -> None:
    files = write_town(tmp_path)
    xml = write_osm_xml(tmp_path / "dup.osm", [(101, {**STREETS[0][1], "tunnel": "no"}, STREETS[0][2])])
    gaz = build_gazetteer(read_osm_files([*files, xml]))
    (decanska,) = _entries(gaz, "street", "Дечанска")
    assert decanska.properties["osm"].count(["way", 101]) == 1


def test_area_file(tmp_path: Path) -> None:
    path = tmp_path / "boundary.geojson"
    path.write_text(json.dumps(shapely.geometry.mapping(AREA)), "utf-8")
    assert read_area(path).equals(AREA)


def test_real_belgrade_gazetteer(shared_data: Path) -> None:
    gaz, seconds = belgrade_gazetteer(shared_data)
    counts = gaz.counts()
    assert seconds < 30
    assert counts["street"] == 71 and counts["address"] == 86 and counts["intersection"] > 100
    assert {"Теразије", "Трг републике", "Трг Николе Пашића"} <= {
        e.name for e in gaz.entries if e.kind == "square"
    }
    assert {"Rakovica", "Vračar", "Novi Beograd"} <= {e.name for e in gaz.entries if e.kind == "area"}
    # Дечанска and Македонска share OSM node 249024039 (44.8157260, 20.4623037)
    (corner,) = [
        e
        for e in gaz.entries
        if e.kind == "intersection" and set(e.name.split(" / ")) == {"Дечанска", "Македонска"}
    ]
    assert (
        gaz.projection.to_metric(corner.geometry).distance(
            gaz.projection.to_metric(Point(20.4623037, 44.8157260))
        )
        < 3.0
    )
    # a square mapped as ways too takes the ways' geometry
    terazije = next(e for e in gaz.entries if e.kind == "square" and e.name == "Теразије")
    ways = next(e for e in gaz.entries if e.kind == "street" and e.name == "Теразије")
    assert terazije.geometry.equals(ways.geometry)
    assert gaz.contains(44.8157, 20.4623) and not gaz.contains(45.2551, 19.8452)  # Novi Sad is outside


# ---- every OSM name tag, and the local-names files ------------------------------------------------


def _write_features(path: Path, features: list[tuple[str, int, dict[str, str], dict]]) -> Path:
    feats = [
        {"type": "Feature", "properties": {"osm_type": t, "osm_id": i, **tags}, "geometry": geom}
        for t, i, tags, geom in features
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}, ensure_ascii=False), "utf-8")
    return path


def test_every_osm_name_tag_is_a_name(tmp_path: Path) -> None:
    """A place known only by its loc_name, official_name or old_name (any of their :sr forms) is in."""
    extra = _write_features(
        tmp_path / "names.geojson",
        [
            ("node", 901, {"amenity": "theatre", "loc_name": "Коларац", "loc_name:sr-Latn": "Kolarac"},
             {"type": "Point", "coordinates": [20.4612, 44.8160]}),
            ("node", 902, {"historic": "memorial", "official_name:sr-Latn": "Spomenik palim borcima"},
             {"type": "Point", "coordinates": [20.4640, 44.8160]}),
            ("node", 903, {"shop": "books", "old_name:sr": "Књижара Просвета", "short_name": "Просвета"},
             {"type": "Point", "coordinates": [20.4645, 44.8155]}),
        ],
    )
    gaz = build_gazetteer(read_osm_files([*write_town(tmp_path), extra]), area=AREA)
    named = {e.name: e for e in gaz.entries if e.kind == "landmark"}
    assert named["Коларац"].properties["variant_tags"]["Kolarac"] == "loc_name:sr-Latn"
    assert "Spomenik palim borcima" in named
    assert {"Књижара Просвета", "Просвета"} <= set(named["Књижара Просвета"].variants)
    c = parse("Kamera ispred Spomenika palim borcima", gaz)[0]
    assert c.source == "landmark:Spomenik palim borcima" and c.status == "auto"
    assert parse("Kamera u Knjižari Prosveta", gaz)[0].evidence["tag"] == "old_name:sr"


LOCAL_NAMES = """name,item,kind,source
Knez,Кнеза Михаила,street,common usage
Moša,way/101,street,a nickname made up for this test
Kod česme,"44.8170, 20.4610",landmark,a fountain OSM does not name
Trg,Трг републике,square,common usage
Stakleni dvor,Стаклени двор,landmark,a building the data lacks
Lilly,node/203,landmark,the maintainers vouch for it
Kod mornara,Ресторан Морнар | Морнар,landmark,the first way of naming it that the data has wins
"""


def test_local_names_file(tmp_path: Path) -> None:
    path = tmp_path / "local.csv"
    path.write_text(LOCAL_NAMES, "utf-8")
    names = read_local_names([path])
    assert [n.kind for n in names] == ["street", "street", "landmark", "square", "landmark", "landmark"] + [
        "landmark"
    ]
    town = build_gazetteer(read_osm_files(write_town(tmp_path)), area=AREA)
    gaz, unused = add_local_names(town, names)
    assert [u.name for u in unused] == ["Stakleni dvor"]  # not in the data: left out, never invented
    (knez,) = _entries(gaz, "street", "Кнеза Михаила")
    assert knez.properties["variant_tags"]["Knez"] == "local_name"
    assert knez.properties["local_names"]["Knez"] == "common usage"
    c = parse("Kamera na Knezu", gaz)[0]
    assert c.source == "street:Кнеза Михаила" and c.evidence["tag"] == "local_name"
    assert parse("Kamera u Moši", gaz)[0].source == "street:Дечанска"
    c = parse("Kamera kod česme, na stubu", gaz)[0]
    assert (c.method, c.lat, c.lon) == ("landmark", 44.8170, 20.4610)
    assert parse("Na Trgu, kamera", gaz)[0].source == "square:Трг републике"  # the square, not a shop
    assert parse("Kamera kod Lilly", gaz)[0].source == "landmark:Lilly"  # vouched for: no support needed
    assert parse("Kamera kod Lilly", town) == []
    assert gaz.counts()["landmark"] == town.counts()["landmark"] + 1
    assert parse("kamera kod mornara", gaz)[0].source == "landmark:Морнар"


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ("Knez,,street,x", "a local name needs a name and an item"),
        ("Knez,Кнеза Михаила,park,x", "kind must be one of"),
        ('Knez,"95.1, 20.4",landmark,x', "95.1, 20.4 is not a latitude and a longitude"),
        ('Knez,"44.81, 20.46",street,x', "a street is a line"),
    ],
)
def test_bad_local_names_are_refused_with_their_line(tmp_path: Path, row: str, problem: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("name,item,kind,source\nTrg,Трг републике,square,ok\n" + row + "\n", "utf-8")
    with pytest.raises(GazetteerDataError, match=f"line 3: {problem}"):
        read_local_names([path])
    path.write_text("name,place\nTrg,Трг републике\n", "utf-8")
    with pytest.raises(GazetteerDataError, match="need the columns name, item, kind, source"):
        read_local_names([path])


def test_the_shipped_belgrade_names(shared_data: Path, tmp_path: Path) -> None:
    """The Belgrade list ships with hiljade, is the default, and every row says where it comes from."""
    (tmp_path / "config.yaml").write_text("hashtags: [hiljadekamera]\n", "utf-8")
    config = load_config(tmp_path / "config.yaml", environ={})
    assert local_name_files(config) == [local_names_path("belgrade")]
    names = read_local_names(local_name_files(config))
    assert len(names) >= 60 and all(n.source and n.kind in KINDS for n in names)
    assert len({(n.name, n.item) for n in names}) == len(names)
    geo = shared_data / "belgrade_geo"
    files = ["derived_osm_named_ways_addresses_pois.geojson", "esn_belgrade_street_relations.geojson"]
    gaz = read_gazetteer(
        [geo / f for f in files],
        local_names=local_name_files(config),
    )
    c = parse("Kamera na Trgu Marksa i Engelsa", gaz)[0]
    assert c.source == "square:Трг Николе Пашића" and c.evidence["tag"] == "local_name"


def test_osm_text_dumps_are_read_together(tmp_path: Path) -> None:
    """``Way:``/``Nd:``/``Tag:`` dumps find their coordinates in a ``Node: id lat lon`` dump."""
    ways = tmp_path / "ways.txt"
    ways.write_text(
        "Way: 7001\nNd: id='1'\nNd: id='2'\nNd: id='3'\nNd: id='4'\nNd: id='1'\n"
        "Tag: k='amenity', v='school'\nTag: k='name', v='ОШ „14. октобар“'\n"
        "Way: 7002\nNd: id='1'\nNd: id='5'\nTag: k='highway', v='residential'\nTag: k='name', v='Гочка'\n",
        "utf-8",
    )
    nodes = tmp_path / "nodes.txt"
    nodes.write_text(
        "Node: 1 44.8000 20.4000\nNode: 2 44.8000 20.4004\nNode: 3 44.8003 20.4004\n"
        "Node: 4 44.8003 20.4000\nNode: 5 44.7990 20.4000\n",
        "utf-8",
    )
    gaz = build_gazetteer(read_osm_files([ways, nodes]))
    (school,) = _entries(gaz, "landmark", "ОШ „14. октобар“")
    assert school.geometry.geom_type == "Polygon" and school.properties["osm"] == [["way", 7001]]
    assert "Основна школа „14. октобар“" in school.variants
    assert _entries(gaz, "street", "Гочка")
    bad = tmp_path / "bad.txt"
    bad.write_text("Way: 1\nsomething else\n", "utf-8")
    with pytest.raises(GazetteerDataError, match="line 2: not a line of an OSM text dump"):
        read_osm_files([bad])
