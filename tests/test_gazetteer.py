"""The gazetteer: kinds of entries, merged streets, intersections, rows round trip, the area."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import shapely
from shapely.geometry import Point

from hiljade.harvester.osm_files import read_area, read_osm_files
from hiljade.pipeline.gazetteer import Gazetteer
from hiljade.pipeline.gazetteer_build import build_gazetteer
from hiljade.pipeline.geometry import LocalProjection
from hiljade.pipeline.normalize import keys
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
