"""A tiny made-up town of crossing Serbian streets, written as OSM files for the gazetteer tests.

Layout (lon, lat): Дечанска runs east along 44.8150 from 20.4600 to 20.4660 (two ways);
Македонска runs north along 20.4620; they cross at (20.4620, 44.8150). Кнеза Михаила (alt
Кнез Михаилова) runs north from Дечанска's west end; Трг републике crosses it and Македонска
at 44.8165; Седамнаестог октобра (17. октобра) crosses Дечанска at 20.4650. Two unrelated
streets are both called Гочка, 5 km apart. ``town_gazetteer`` and ``belgrade_gazetteer`` (the real
files of ../shared) are built once and shared by the tests that need them.
"""

from __future__ import annotations

import functools
import json
import time
from pathlib import Path
from typing import Any

from shapely.geometry import box

from hiljade.harvester.osm_files import read_area, read_osm_files
from hiljade.pipeline.gazetteer import Gazetteer
from hiljade.pipeline.gazetteer_build import build_gazetteer

AREA = box(20.39, 44.79, 20.48, 44.84)
DECANSKA_MAKEDONSKA = (44.8150, 20.4620)
DECANSKA_17_OKTOBRA = (44.8150, 20.4650)

STREETS: list[tuple[int, dict[str, str], list[tuple[float, float]]]] = [
    (
        101,
        {
            "highway": "secondary",
            "name": "Дечанска",
            "name:sr": "Дечанска",
            "name:sr-Latn": "Dečanska",
            "old_name": "Моше Пијаде",
            "old_name:sr-Latn": "Moše Pijade",
        },
        [(20.4600, 44.8150), (20.4630, 44.8150)],
    ),
    (
        102,
        {"highway": "secondary", "name": "Дечанска", "name:sr-Latn": "Dečanska"},
        [(20.4630, 44.8150), (20.4660, 44.8150)],
    ),
    (
        103,
        {"highway": "secondary", "name": "Македонска", "name:sr-Latn": "Makedonska"},
        [(20.4620, 44.8120), (20.4620, 44.8180)],
    ),
    (
        104,
        {
            "highway": "pedestrian",
            "name": "Кнеза Михаила",
            "name:sr-Latn": "Kneza Mihaila",
            "alt_name": "Кнез Михаилова",
            "alt_name:sr-Latn": "Knez Mihailova",
        },
        [(20.4600, 44.8150), (20.4600, 44.8200)],
    ),
    (
        105,
        {"highway": "pedestrian", "name": "Трг републике", "name:sr-Latn": "Trg republike"},
        [(20.4595, 44.8165), (20.4625, 44.8165)],
    ),
    (
        106,
        {
            "highway": "tertiary",
            "name": "Седамнаестог октобра",
            "alt_name:sr": "17. октобра",
            "alt_name:sr-Latn": "17. oktobra",
        },
        [(20.4650, 44.8130), (20.4650, 44.8170)],
    ),
    (
        107,
        {"highway": "residential", "name": "Гочка", "name:sr-Latn": "Gočka"},
        [(20.4000, 44.8000), (20.4010, 44.8000)],
    ),
    (
        108,
        {"highway": "residential", "name": "Гочка", "name:sr-Latn": "Gočka"},
        [(20.4700, 44.8300), (20.4710, 44.8300)],
    ),
    (
        109,
        {"highway": "service", "name": "Ослобођења", "name:sr-Latn": "Oslobođenja"},
        [(20.4500, 44.8100), (20.4510, 44.8100)],
    ),
    (
        110,
        {"highway": "service", "name": "Окретница", "name:sr-Latn": "Okretnica"},
        [(20.4610, 44.8130), (20.4630, 44.8130)],
    ),
]
POINTS: list[tuple[int, dict[str, str], tuple[float, float]]] = [
    (
        201,
        {
            "amenity": "arts_centre",
            "name": "Дом омладине Београда",
            "name:sr-Latn": "Dom omladine Beograda",
            "addr:street": "Македонска",
            "addr:housenumber": "22",
        },
        (20.4625, 44.8153),
    ),
    (202, {"highway": "bus_stop", "name": "Дом Омладине"}, (20.4623, 44.8156)),
    (203, {"shop": "chemist", "name": "Lilly"}, (20.4610, 44.8151)),
    (
        204,
        {
            "amenity": "restaurant",
            "name": "Морнар",
            "name:sr-Latn": "Mornar",
            "addr:street": "Дечанска",
            "addr:housenumber": "2",
        },
        (20.4621, 44.8151),
    ),
    (205, {"addr:street": "Дечанска", "addr:housenumber": "5"}, (20.4630, 44.8152)),
    (206, {"addr:street": "Дечанска", "addr:housenumber": "8а"}, (20.4640, 44.8148)),
    (207, {"addr:street": "Македонска", "addr:housenumber": "14"}, (20.4622, 44.8160)),
    (208, {"addr:street": "Вука Караџића", "addr:housenumber": "6"}, (20.4570, 44.8180)),
]
AREAS = [
    {"name": "Stari grad", "slug": "stari-grad", "box": (20.455, 44.810, 20.470, 44.822)},
    {"name": "Rakovica", "slug": "rakovica", "box": (20.395, 44.795, 20.405, 44.805)},
]
KNOWN = ["Булевар ослобођења", "Таковска", "Кнеза Милоша", "Трг Николе Пашића"]


def _feature(kind: str, ident: int, tags: dict[str, str], geometry: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "Feature",
        "properties": {"osm_type": kind, "osm_id": ident, **tags},
        "geometry": geometry,
    }


def write_town(folder: Path) -> list[Path]:
    """The town as a GeoJSON of streets and points, a GeoJSON of areas and a CSV of known names."""
    folder.mkdir(parents=True, exist_ok=True)
    feats = [_feature("way", i, t, {"type": "LineString", "coordinates": c}) for i, t, c in STREETS]
    feats += [_feature("node", i, t, {"type": "Point", "coordinates": c}) for i, t, c in POINTS]
    square = {"type": "MultiLineString", "coordinates": [[[20.4550, 44.8200], [20.4556, 44.8200]]]}
    feats.append(
        {"type": "Feature", "id": 301, "properties": {"name": "Сквер Мике Аласа"}, "geometry": square}
    )
    streets = folder / "town.geojson"
    streets.write_text(
        json.dumps({"type": "FeatureCollection", "features": feats}, ensure_ascii=False), "utf-8"
    )
    areas = folder / "areas.geojson"
    area_feats = [
        {
            "type": "Feature",
            "properties": {"name": a["name"], "slug": a["slug"]},
            "geometry": json.loads(json.dumps(box(*a["box"]).__geo_interface__)),
        }
        for a in AREAS
    ]
    areas.write_text(json.dumps({"type": "FeatureCollection", "features": area_feats}), "utf-8")
    known = folder / "known.csv"
    known.write_text("name,source\n" + "".join(f'"{n}",\n' for n in KNOWN), "utf-8")
    return [streets, areas, known]


def write_osm_xml(path: Path, ways: list[tuple[int, dict[str, str], list[tuple[float, float]]]]) -> Path:
    """Ways as OSM XML (nodes numbered from 1)."""
    nodes, refs, lines = {}, [], ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6">']
    for _, _, coords in ways:
        ids = []
        for c in coords:
            nodes.setdefault(c, len(nodes) + 1)
            ids.append(nodes[c])
        refs.append(ids)
    lines += [f'<node id="{n}" lat="{c[1]}" lon="{c[0]}"/>' for c, n in nodes.items()]
    for (ident, tags, _), ids in zip(ways, refs, strict=True):
        lines.append(
            f'<way id="{ident}">'
            + "".join(f'<nd ref="{n}"/>' for n in ids)
            + "".join(f'<tag k="{k}" v="{v}"/>' for k, v in tags.items())
            + "</way>"
        )
    path.write_text("\n".join(lines + ["</osm>"]), "utf-8")
    return path


@functools.lru_cache(maxsize=1)
def town_gazetteer(folder: str) -> Gazetteer:
    """The town's gazetteer, built once per folder (the tests share it)."""
    return build_gazetteer(read_osm_files(write_town(Path(folder))), area=AREA)


@functools.lru_cache(maxsize=1)
def belgrade_gazetteer(folder: Path) -> tuple[Gazetteer, float]:
    """The gazetteer of the real Belgrade files in ../shared/data, and the seconds its build took."""
    geo = folder / "belgrade_geo"
    files = [
        geo / n
        for n in (
            "derived_osm_named_ways_addresses_pois.geojson",
            "osm_pt2matsim_belgrade_terazije.osm",
            "esn_belgrade_street_relations.geojson",
            "gdeziveti_belgrade_opstine_urban11_excerpt.geojson",
            "esn_belgrade_streets_gender.csv",
            "esn_belgrade_streets_other.csv",
        )
    ]
    start = time.perf_counter()
    gaz = build_gazetteer(read_osm_files(files), area=read_area(geo / "esn_belgrade_boundary.geojson"))
    return gaz, time.perf_counter() - start
