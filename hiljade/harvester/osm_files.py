"""Read the OSM files people have into plain feature records (tags + WGS84 shapely geometry).

Formats: GeoJSON with OSM tags as properties (a FeatureCollection, one Feature or a bare geometry),
Overpass JSON (``out geom`` or separate nodes), OSM XML (``.osm``), ``.osm.pbf`` (pyosmium), text
dumps (``Node: id lat lon`` lines, and ``Way: id`` / ``Nd: id='ref'`` / ``Tag: k='k', v='v'`` lines;
the dumps given together are read together, so a ways dump finds its nodes in a nodes dump), and
CSV name lists (a ``name`` column, no geometry). Only elements with a name or an address are kept.
The features themselves and their geometry come from ``hiljade.pipeline.osm_features``.
"""

from __future__ import annotations

import csv
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from hiljade.errors import GazetteerDataError
from hiljade.pipeline.local_names import LocalName, parse_local_names
from hiljade.pipeline.osm_features import OsmFeature, area_of, assemble

NAME_KEYS = ("name", "alt_name", "old_name", "short_name", "official_name", "loc_name", "int_name")
SHIPPED = Path(__file__).resolve().parent.parent / "data"  # the local-names files hiljade ships
LOCAL_NAMES_COLUMNS = ("name", "item", "kind", "source")


def _words(text: str) -> frozenset[str]:
    """A set of words written as one string."""
    return frozenset(text.split())


SKIPPED_RELATIONS = _words(
    "route route_master restriction superroute network public_transport enforcement "
    "destination_sign connectivity"
)
_GEOJSON_TYPES = {
    "FeatureCollection",
    "Feature",
    "Point",
    "MultiPoint",
    "LineString",
    "MultiLineString",
    "Polygon",
    "MultiPolygon",
    "GeometryCollection",
}


def wanted(tags: Mapping[str, str]) -> bool:
    """True for elements worth a gazetteer: a name of some kind or an address, and not a route."""
    if tags.get("type") in SKIPPED_RELATIONS:
        return False
    return "addr:housenumber" in tags or any(k.split(":")[0] in NAME_KEYS for k in tags)


def read_osm_files(paths: Sequence[Path | str]) -> list[OsmFeature]:
    """The features of every file, in file order (see ``read_features``); text dumps are read together
    at the place of the first."""
    dumps = [Path(p) for p in paths if _is_dump(Path(p))]
    out: list[OsmFeature] = []
    for path in map(Path, paths):
        if path not in dumps or path == dumps[0]:
            out += read_features(path, dumps=dumps)
    return out


def _is_dump(path: Path) -> bool:
    try:
        return sniff(path) == "dump"
    except (OSError, GazetteerDataError):
        return False  # read_features says what is wrong with it


def read_area(path: Path | str) -> BaseGeometry:
    """The union of every polygon in a file (e.g. the city boundary)."""
    return area_of(read_features(path, keep=lambda tags: True), str(path))


def read_features(
    path: Path | str, *, keep: Callable[[Mapping[str, str]], bool] = wanted, dumps: Sequence[Path] = ()
) -> list[OsmFeature]:
    """Read one file, choosing the format by extension and content (a text dump together with the
    other ``dumps``); raise GazetteerDataError if unreadable."""
    path = Path(path)
    try:
        kind = sniff(path)
        if kind == "pbf":
            return list(_read_pbf(path, keep))
        if kind == "xml":
            return list(_read_xml(path, keep))
        if kind == "csv":
            return _read_csv(path)
        if kind == "dump":
            return list(_read_dumps(dumps or [path], keep))
        with path.open(encoding="utf-8") as fh:
            data = json.load(fh)
        if isinstance(data, dict) and isinstance(data.get("elements"), list):
            return list(_read_overpass(data, str(path), keep))
        if isinstance(data, dict) and data.get("type") in _GEOJSON_TYPES:
            return list(_read_geojson(data, str(path)))
        raise GazetteerDataError(
            f"{path}: JSON that is neither GeoJSON nor Overpass JSON (no 'type'/'elements')"
        )
    except GazetteerDataError:
        raise
    except (
        OSError,
        UnicodeDecodeError,
        json.JSONDecodeError,
        ET.ParseError,
        RuntimeError,
        ValueError,
        KeyError,
        TypeError,
        IndexError,
        csv.Error,
    ) as exc:
        raise GazetteerDataError(f"{path}: cannot read it: {type(exc).__name__}: {exc}") from exc


def sniff(path: Path) -> str:
    """The format of a file: ``pbf``, ``xml``, ``csv`` or ``json``."""
    name = path.name.lower()
    if name.endswith(".pbf"):
        return "pbf"
    if name.endswith((".osm", ".xml")):
        return "xml"
    if name.endswith((".csv", ".tsv")):
        return "csv"
    if name.endswith((".json", ".geojson")):
        return "json"
    with path.open("rb") as fh:
        head = fh.read(64)
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith((b"<?xml", b"<osm")):
        return "xml"
    if text.startswith((b"{", b"[")):
        return "json"
    if text.startswith((b"Node: ", b"Way: ", b"Relation: ")):
        return "dump"
    if b"OSMHeader" in head:
        return "pbf"
    raise GazetteerDataError(f"{path}: unknown format (not GeoJSON, Overpass JSON, OSM XML, PBF or CSV)")


def _scalar_tags(props: Mapping[str, Any]) -> dict[str, str]:
    return {
        str(k): str(v)
        for k, v in props.items()
        if v is not None and not isinstance(v, (dict, list)) and str(v) != ""
    }


def _check_lonlat(geom: BaseGeometry, source: str) -> BaseGeometry:
    if not geom.is_empty:
        x0, y0, x1, y1 = geom.bounds
        if x0 < -180 or x1 > 180 or y0 < -90 or y1 > 90:
            raise GazetteerDataError(
                f"{source}: coordinates are not WGS84 longitude/latitude ({geom.bounds})"
            )
    return geom


def _osm_ref(feature: Mapping[str, Any], props: Mapping[str, Any]) -> tuple[str | None, int | None]:
    for value in (props.get("@id"), feature.get("id"), props.get("id")):
        if isinstance(value, str) and "/" in value:
            kind, _, ident = value.partition("/")
            if kind in ("node", "way", "relation") and ident.lstrip("-").isdigit():
                return kind, int(ident)
    kind = props.get("osm_type") or props.get("@type") or props.get("type")
    ident = props.get("osm_id", feature.get("id"))
    if kind in ("node", "way", "relation") and str(ident).lstrip("-").isdigit():
        return str(kind), int(ident)
    return None, None


def _read_geojson(data: Mapping[str, Any], source: str) -> Iterator[OsmFeature]:
    if data["type"] == "FeatureCollection":
        features = data.get("features")
        if not isinstance(features, list):
            raise GazetteerDataError(f"{source}: FeatureCollection without a 'features' list")
    elif data["type"] == "Feature":
        features = [data]
    else:
        features = [{"type": "Feature", "geometry": data, "properties": {}}]
    for feat in features:
        props = feat.get("properties") or {}
        geom = _check_lonlat(shape(feat["geometry"]), source) if feat.get("geometry") else None
        osm_type, osm_id = _osm_ref(feat, props)
        tags = _scalar_tags(props)
        for key in ("@id", "osm_type", "osm_id", "@type"):
            tags.pop(key, None)
        yield OsmFeature(tags, geom, osm_type, osm_id, source)


def _read_overpass(
    data: Mapping[str, Any], source: str, keep: Callable[[Mapping[str, str]], bool]
) -> Iterator[OsmFeature]:
    elements = data["elements"]
    node_coords: dict[int, tuple[float, float]] = {}
    nodes, ways, relations = [], [], []
    for el in elements:
        if el.get("type") == "node" and "lat" in el:
            node_coords[el["id"]] = (float(el["lon"]), float(el["lat"]))
    for el in elements:
        tags = _scalar_tags(el.get("tags") or {})
        kind = el.get("type")
        if kind == "node" and el["id"] in node_coords:
            nodes.append((el["id"], node_coords[el["id"]], tags))
        elif kind == "way":
            if el.get("geometry"):
                coords = [(float(p["lon"]), float(p["lat"])) for p in el["geometry"] if p]
            else:
                coords = [node_coords[r] for r in el.get("nodes", []) if r in node_coords]
            ways.append((el["id"], coords, tags))
        elif kind == "relation":
            members = []
            for m in el.get("members", []):
                members.append((m["type"], m["ref"], m.get("role", "")))
                if m["type"] == "way" and m.get("geometry"):
                    ways.append(
                        (m["ref"], [(float(p["lon"]), float(p["lat"])) for p in m["geometry"] if p], {})
                    )
                elif m["type"] == "node" and "lat" in m:
                    node_coords[m["ref"]] = (float(m["lon"]), float(m["lat"]))
            relations.append((el["id"], members, tags))
    yield from assemble(source, nodes, ways, relations, keep, node_coords)


def _read_xml(path: Path, keep: Callable[[Mapping[str, str]], bool]) -> Iterator[OsmFeature]:
    node_coords: dict[int, tuple[float, float]] = {}
    nodes, ways, relations = [], [], []
    root_seen = False
    for _, el in ET.iterparse(path, events=("end",)):
        tag = el.tag
        if tag == "osm":
            root_seen = True
        if tag not in ("node", "way", "relation"):
            continue
        tags = {t.get("k"): t.get("v") for t in el.findall("tag")}
        ident = int(el.get("id"))
        if tag == "node":
            loc = (float(el.get("lon")), float(el.get("lat")))
            node_coords[ident] = loc
            if tags:
                nodes.append((ident, loc, tags))
        elif tag == "way":
            refs = [int(nd.get("ref")) for nd in el.findall("nd")]
            ways.append((ident, refs, tags))
        else:
            members = [(m.get("type"), int(m.get("ref")), m.get("role", "")) for m in el.findall("member")]
            relations.append((ident, members, tags))
        el.clear()
    if not root_seen:
        raise GazetteerDataError(f"{path}: XML without an <osm> root element")
    resolved = [(i, [node_coords[r] for r in refs if r in node_coords], t) for i, refs, t in ways]
    yield from assemble(str(path), nodes, resolved, relations, keep, node_coords)


def _read_pbf(path: Path, keep: Callable[[Mapping[str, str]], bool]) -> Iterator[OsmFeature]:
    import osmium  # imported here: only PBF needs it

    relations, member_ways, member_nodes = [], set(), set()
    for rel in osmium.FileProcessor(str(path), osmium.osm.RELATION):
        tags = {t.k: t.v for t in rel.tags}
        if tags and keep(tags):
            members = [
                (m.type and {"n": "node", "w": "way", "r": "relation"}[m.type], m.ref, m.role)
                for m in rel.members
            ]
            relations.append((rel.id, members, tags))
            member_ways.update(ref for kind, ref, _ in members if kind == "way")
            member_nodes.update(ref for kind, ref, _ in members if kind == "node")
    node_coords: dict[int, tuple[float, float]] = {}
    nodes, ways = [], []
    processor = osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY).with_locations()
    for obj in processor:
        if obj.is_node():
            tags = {t.k: t.v for t in obj.tags}
            if (tags and keep(tags)) or obj.id in member_nodes:
                loc = (obj.location.lon, obj.location.lat)
                node_coords[obj.id] = loc
                nodes.append((obj.id, loc, tags))
        elif obj.is_way():
            tags = {t.k: t.v for t in obj.tags}
            if (tags and keep(tags)) or obj.id in member_ways:
                coords = [(n.lon, n.lat) for n in obj.nodes if n.location.valid()]
                ways.append((obj.id, coords, tags))
    yield from assemble(str(path), nodes, ways, relations, keep, node_coords)


def _read_csv(path: Path) -> list[OsmFeature]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh, dialect="excel-tab" if path.suffix == ".tsv" else "excel")
        if not reader.fieldnames or "name" not in reader.fieldnames:
            raise GazetteerDataError(f"{path}: CSV without a 'name' column")
        return [
            OsmFeature(_scalar_tags(row), None, None, None, str(path))
            for row in reader
            if (row.get("name") or "").strip()
        ]


def local_names_path(spec: str | Path) -> Path:
    """The local-names file a setting names: a path, or the name of a file hiljade ships (``belgrade``
    is ``hiljade/data/belgrade-local-names.csv``)."""
    text = str(spec)
    if "/" not in text and "\\" not in text and not text.lower().endswith((".csv", ".tsv")):
        return SHIPPED / f"{text}-local-names.csv"
    return Path(spec)


def read_local_names(specs: Sequence[str | Path]) -> list[LocalName]:
    """The rows of every local-names CSV (columns name, item, kind, source; see ``pipeline.local_names``);
    GazetteerDataError naming the file and line when one cannot be read."""
    out: list[LocalName] = []
    for spec in specs:
        path = local_names_path(spec)
        try:
            with path.open(encoding="utf-8-sig", newline="") as fh:
                reader = csv.DictReader(fh)
                columns = reader.fieldnames or []
                rows = [
                    {**r, "line": reader.line_num}
                    for r in reader
                    if any((v or "").strip() for v in r.values())
                ]
        except FileNotFoundError as exc:
            raise GazetteerDataError(f"{path}: no such local-names file (see gazetteer.local_names)") from exc
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise GazetteerDataError(f"{path}: cannot read the local names: {exc}") from exc
        if any(c not in columns for c in LOCAL_NAMES_COLUMNS[:3]):
            raise GazetteerDataError(f"{path}: local names need the columns {', '.join(LOCAL_NAMES_COLUMNS)}")
        out += parse_local_names(rows, str(path))
    return out


_DUMP_TAG = re.compile(r"^Tag: k='(.*?)', v='(.*)'$")
_DUMP_ND = re.compile(r"^Nd: id='(-?\d+)'$")


def _read_dumps(paths: Sequence[Path], keep: Callable[[Mapping[str, str]], bool]) -> Iterator[OsmFeature]:
    """Features from text dumps: ``Node: id lat lon`` lines and ``Way: id`` blocks of ``Nd:``/``Tag:``."""
    node_coords: dict[int, tuple[float, float]] = {}
    nodes: list[tuple[int, tuple[float, float], dict[str, str]]] = []
    ways: list[tuple[int, list[int], dict[str, str]]] = []
    current: dict[str, str] | None = None
    for path in paths:
        with path.open(encoding="utf-8") as fh:
            for number, raw in enumerate(fh, 1):
                line = raw.strip()
                if line.startswith("Node: "):
                    ident, lat, lon = line[6:].split()[:3]
                    node_coords[int(ident)] = (float(lon), float(lat))
                    current = {}
                    nodes.append((int(ident), node_coords[int(ident)], current))
                elif line.startswith("Way: "):
                    current = {}
                    ways.append((int(line[5:].split()[0]), [], current))
                elif (nd := _DUMP_ND.match(line)) and ways and current is ways[-1][2]:
                    ways[-1][1].append(int(nd.group(1)))
                elif (tag := _DUMP_TAG.match(line)) and current is not None:
                    current[tag.group(1)] = tag.group(2)
                elif line and not line.startswith("Relation: "):
                    raise GazetteerDataError(f"{path}, line {number}: not a line of an OSM text dump")
    resolved = [(i, [node_coords[r] for r in refs if r in node_coords], t) for i, refs, t in ways]
    source = ", ".join(str(p) for p in paths)
    yield from assemble(source, [n for n in nodes if n[2]], resolved, [], keep, node_coords)
