"""A small made-up police list of camera locations and the streets it names (official-list tests)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from shapely.geometry import box

from hiljade.harvester.osm_files import read_osm_files
from hiljade.pipeline.gazetteer import Gazetteer
from hiljade.pipeline.gazetteer_build import build_gazetteer

AREA = box(20.44, 44.79, 20.49, 44.83)
STREETS: list[tuple[int, dict[str, str], list[tuple[float, float]]]] = [
    (
        1,
        {"name": "Булевар краља Александра", "name:sr-Latn": "Bulevar kralja Aleksandra"},
        [(20.470, 44.805), (20.480, 44.805)],
    ),
    (2, {"name": "Рузвелтова", "name:sr-Latn": "Ruzveltova"}, [(20.475, 44.800), (20.475, 44.810)]),
    (3, {"name": "Таковска", "name:sr-Latn": "Takovska"}, [(20.465, 44.812), (20.472, 44.812)]),
    (4, {"name": "Влајковићева", "name:sr-Latn": "Vlajkovićeva"}, [(20.468, 44.809), (20.468, 44.815)]),
    (
        5,
        {
            "name": "Кнеза Михаила",
            "name:sr-Latn": "Kneza Mihaila",
            "alt_name": "Кнез Михаилова",
            "alt_name:sr-Latn": "Knez Mihailova",
        },
        [(20.457, 44.815), (20.457, 44.820)],
    ),
]
KNEZ_10 = (44.8170, 20.4571)
BULEVAR_RUZVELTOVA = (44.805, 20.475)
TAKOVSKA_VLAJKOVICEVA = (44.812, 20.468)
# A police list: a title line, the header, Cyrillic, Latin and diacritic-free rows, intersections,
# house numbers, decimal commas, junk, an empty row and the same row twice.
ROWS = [
    ["Списак локација видео надзора", "", "", ""],
    ["Р.бр.", "Адреса", "Ширина", "Дужина"],
    ["1", "Булевар краља Александра / Рузвелтова", "", ""],
    ["2", "Ugao Takovske i Vlajkovićeve", "", ""],
    ["3", "Knez Mihailova 10", "", ""],
    ["4", "", "44,8100", "20,4700"],
    ["5", "Knez Mihailova 99", "", ""],
    ["6", "", "45,5", "21,5"],
    ["7", "xx qq", "", ""],
    ["8", "ugao takovske i vlajkoviceve", "", ""],
    ["", "", "", ""],
    ["9", "Ugao Takovske i Vlajkovićeve", "", ""],
]
EXPECTED = {"read": 9, "placed": 4, "street_only": 1, "not_placed": 1, "outside_area": 1, "duplicate": 2}


def street_features() -> dict[str, Any]:
    """The streets (and one address) as GeoJSON with OSM tags."""
    feats = [
        {
            "type": "Feature",
            "properties": {"osm_type": "way", "osm_id": i, "highway": "secondary", **tags},
            "geometry": {"type": "LineString", "coordinates": coords},
        }
        for i, tags, coords in STREETS
    ]
    feats.append(
        {
            "type": "Feature",
            "properties": {
                "osm_type": "node",
                "osm_id": 10,
                "addr:street": "Кнеза Михаила",
                "addr:housenumber": "10",
            },
            "geometry": {"type": "Point", "coordinates": [KNEZ_10[1], KNEZ_10[0]]},
        }
    )
    return {"type": "FeatureCollection", "features": feats}


def streets_gazetteer(folder: Path) -> Gazetteer:
    """The streets' gazetteer, with the area."""
    path = folder / "streets.geojson"
    path.write_text(json.dumps(street_features(), ensure_ascii=False), "utf-8")
    return build_gazetteer(read_osm_files([path]), area=AREA)


def write_csv(path: Path, rows: list[list[str]], *, delimiter: str = ";", encoding: str = "utf-8") -> Path:
    """Rows as a CSV file in ``encoding``."""
    path.write_bytes("\r\n".join(delimiter.join(r) for r in rows).encode(encoding))
    return path
