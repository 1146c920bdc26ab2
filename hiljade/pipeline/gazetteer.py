"""The OSM gazetteer: streets, squares, landmarks, addresses, intersections and named areas.

Built once from OSM files (``build_gazetteer``), kept as plain rows (``to_rows``/``from_rows``:
kind, name, variants, geometry as GeoJSON text, properties) and indexed by folded name keys for the
geoparser. Distances are metres on a local equirectangular projection around the data's centre.
Kinds: street (merged ways of one name; far-apart namesakes stay separate), square, landmark
(named POIs, buildings, stops), address, area (municipalities, neighbourhoods: never a position),
known (names without geometry, e.g. CSV street lists: they only stop lookalikes from matching),
intersection (two streets that cross or come within a few metres), boundary (the area polygon).
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import MultiLineString, Point
from shapely.geometry.base import BaseGeometry
from shapely.ops import linemerge, unary_union
from shapely.prepared import prep

from hiljade.errors import GazetteerDataError
from hiljade.harvester.osm_files import OsmFeature, read_features
from hiljade.pipeline.normalize import (
    damerau1,
    deletions,
    feminine_adjective,
    fleeting_a,
    housenumber_keys,
    keys,
    shorter_names,
    sibilant_alternative,
    tokenize,
)


def _words(text: str) -> frozenset[str]:
    """A set of words written as one string."""
    return frozenset(text.split())


def _seq(text: str) -> tuple[str, ...]:
    """A tuple of words written as one string."""
    return tuple(text.split())


EARTH_R = 6371008.8
FUZZY_MIN = 7  # a name word needs a key this long before one wrong letter is forgiven
SAME_STREET_M = 150.0  # ways of one name closer than this are one street
BIG_M = 400.0  # a square or landmark reaching further than this from its centre is a vague area
MEET_M = 5.0  # two streets meet when they cross or come this close
CLUSTER_M = 40.0  # meeting points closer than this are one intersection
NAME_TAGS = _seq("name alt_name old_name short_name official_name loc_name int_name reg_name")


SQUARE_WORDS = _words("trg skver plat plac pjacet")
AREA_PLACES = _words(
    "city town village suburb quarter neighbourhood hamlet locality borough city_block "
    "municipality county region district island"
)
CLASS_KEYS = _seq(
    "highway amenity shop tourism building leisure historic office craft man_made public_transport "
    "railway place boundary landuse natural waterway healthcare emergency club sport military "
    "aeroway memorial"
)
LANDMARK_TAGS = _seq(
    "amenity shop tourism building leisure historic office highway public_transport addr:street "
    "addr:housenumber"
)


@dataclass(frozen=True)
class Entry:
    """One gazetteer row: what it is, its names, its WGS84 geometry and its properties."""

    kind: str
    name: str
    variants: tuple[str, ...]
    geometry: BaseGeometry | None
    properties: Mapping[str, Any] = field(default_factory=dict)

    @property
    def point(self) -> tuple[float, float]:
        """The (lat, lon) that stands for this entry."""
        p = self.properties.get("point")
        if p:
            return (p[1], p[0])
        c = self.geometry.centroid if self.geometry is not None else Point(0, 0)
        return (c.y, c.x)


@dataclass
class NameGroup:
    """Every entry one folded name (a tuple of match keys) can stand for."""

    keys: tuple[str, ...]
    alts: tuple[frozenset[str], ...]
    folds: tuple[str, ...] = ()  # the name's words, folded, for gender agreement
    members: list[tuple[int, str, str]] = field(default_factory=list)  # (entry id, variant, tag)

    def __post_init__(self) -> None:
        self.folds = self.folds or self.keys
        self.feminine = tuple(feminine_adjective(f) for f in self.folds)

    @property
    def weak(self) -> bool:
        """One word only: a landmark named so needs support from the rest of the post."""
        return len(self.keys) == 1


class LocalProjection:
    """Equirectangular metres around an origin; within 1 % across a city."""

    def __init__(self, lat0: float, lon0: float) -> None:
        self.lat0, self.lon0 = lat0, lon0
        self.kx = math.pi / 180.0 * EARTH_R * math.cos(math.radians(lat0))
        self.ky = math.pi / 180.0 * EARTH_R

    @classmethod
    def around(cls, geoms: Iterable[BaseGeometry | None]) -> LocalProjection:
        """A projection centred on the bounding box of ``geoms``."""
        present = [g for g in geoms if g is not None and not g.is_empty]
        x0, y0, x1, y1 = shapely.total_bounds(present) if present else (0.0, 0.0, 0.0, 0.0)
        return cls((float(y0) + float(y1)) / 2, (float(x0) + float(x1)) / 2)

    def to_metric(self, geom: BaseGeometry) -> BaseGeometry:
        """WGS84 geometry -> local metres."""
        return shapely.transform(geom, lambda c: (c - (self.lon0, self.lat0)) * (self.kx, self.ky))

    def to_wgs84(self, geom: BaseGeometry) -> BaseGeometry:
        """Local metres -> WGS84 geometry."""
        return shapely.transform(geom, lambda c: c / (self.kx, self.ky) + (self.lon0, self.lat0))

    def lonlat(self, metric_point: Point) -> list[float]:
        """A metric point as [lon, lat], rounded to 7 decimals (about 1 cm)."""
        q = self.to_wgs84(metric_point)
        return [round(q.x, 7), round(q.y, 7)]


class Gazetteer:
    """Indexed gazetteer entries plus the area polygon (see the module docstring)."""

    def __init__(self, entries: Sequence[Entry], area: BaseGeometry | None = None) -> None:
        self.entries: list[Entry] = list(entries)
        self.area = area
        self._area_prepared = prep(area) if area is not None else None
        self.projection = LocalProjection.around(
            [area] if area is not None else [e.geometry for e in entries]
        )
        self.by_first: dict[str, list[NameGroup]] = defaultdict(list)
        self.fuzzy_first: dict[str, set[str]] = defaultdict(set)
        self.addresses: dict[tuple[str, ...], dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
        self.intersections: dict[frozenset[int], int] = {}
        self._metric: dict[int, BaseGeometry] = {}
        groups: dict[tuple[str, ...], NameGroup] = {}
        refs: dict[str, int] = {}
        for eid, entry in enumerate(self.entries):
            if entry.kind == "address":
                street = keys(entry.properties.get("street", ""))
                for hn in housenumber_keys(entry.properties.get("housenumber", "")):
                    self.addresses[street][hn].append(eid)
                names = [entry.properties.get("street", "")]  # a street known only by its addresses
            elif entry.kind in ("street", "square", "landmark", "area", "known"):
                names = list(entry.variants)
                refs[entry.properties.get("ref", "")] = eid
            else:
                continue
            tags = entry.properties.get("variant_tags", {})
            for variant in names:
                k = keys(variant)
                if k and k not in groups:
                    alts = tuple(
                        frozenset(filter(None, (w, sibilant_alternative(w), fleeting_a(w)))) for w in k
                    )
                    groups[k] = NameGroup(k, alts, tuple(t.fold for t in tokenize(variant, skip_links=False)))
                    self.by_first[k[0]].append(groups[k])
                    for w in (w for w in k if len(w) >= FUZZY_MIN and not w.startswith("#")):
                        for d in deletions(w) | {w}:
                            self.fuzzy_first[d].add(w)
                if k and entry.kind != "address":
                    groups[k].members.append((eid, variant, tags.get(variant, "name")))
        self.name_keys = {w for k in groups for w in k}
        for eid, entry in enumerate(self.entries):
            if entry.kind == "intersection":
                a, b = (refs.get(r) for r in entry.properties.get("streets", ()))
                if a is not None and b is not None:
                    self.intersections[frozenset((a, b))] = eid

    @property
    def centre(self) -> tuple[float, float]:
        """(lat, lon) of the middle of the area (or of the data): short plus codes are recovered here."""
        return (self.projection.lat0, self.projection.lon0)

    def contains(self, lat: float, lon: float) -> bool:
        """True when (lat, lon) lies in the area polygon, or when no area is set."""
        return self._area_prepared is None or self._area_prepared.covers(Point(lon, lat))

    def distance_to(self, eid: int, lat: float, lon: float) -> float:
        """Metres from (lat, lon) to an entry's geometry (inf when it has none)."""
        geom = self._metric.get(eid)
        if geom is None:
            if self.entries[eid].geometry is None:
                return math.inf
            geom = self._metric[eid] = self.projection.to_metric(self.entries[eid].geometry)
        return geom.distance(self.projection.to_metric(Point(lon, lat)))

    def fuzzy_keys(self, key: str) -> set[str]:
        """Name keys one edit away from ``key``."""
        found = set(self.fuzzy_first.get(key, ()))
        for d in deletions(key):
            found |= self.fuzzy_first.get(d, set())
        return {k for k in found if k != key and damerau1(k, key)}

    def counts(self) -> dict[str, int]:
        """How many entries of each kind."""
        return dict(Counter(e.kind for e in self.entries))

    def to_rows(self) -> list[dict[str, Any]]:
        """Plain JSON-able rows: kind, name, variants (list), geometry (GeoJSON text or None), properties."""
        entries = self.entries + ([Entry("boundary", "area", (), self.area)] if self.area is not None else [])
        return [
            {
                "kind": e.kind,
                "name": e.name,
                "variants": list(e.variants),
                "geometry": shapely.to_geojson(e.geometry) if e.geometry is not None else None,
                "properties": dict(e.properties),
            }
            for e in entries
        ]

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping[str, Any]]) -> Gazetteer:
        """Rebuild a gazetteer from ``to_rows`` output (variants/properties/geometry may be JSON text)."""
        rows = list(rows)
        texts = [
            json.dumps(r["geometry"]) if isinstance(r.get("geometry"), Mapping) else r.get("geometry")
            for r in rows
        ]
        present = [i for i, t in enumerate(texts) if t]
        geoms: list[BaseGeometry | None] = [None] * len(rows)
        for i, g in zip(present, shapely.from_geojson([texts[i] for i in present]), strict=True):
            geoms[i] = g
        entries, area = [], None
        for row, geom in zip(rows, geoms, strict=True):
            variants, props = row.get("variants") or [], row.get("properties") or {}
            variants = json.loads(variants) if isinstance(variants, str) else variants
            props = json.loads(props) if isinstance(props, str) else props
            if row["kind"] == "boundary":
                area = geom
            else:
                entries.append(Entry(row["kind"], row["name"], tuple(variants), geom, props))
        return cls(entries, area)


def load_area(path: Path | str) -> BaseGeometry:
    """The union of every polygon in a file (e.g. the city boundary)."""
    polys = [
        f.geometry
        for f in read_features(path, keep=lambda tags: True)
        if f.geometry is not None and f.geometry.geom_type in ("Polygon", "MultiPolygon")
    ]
    if not polys:
        raise GazetteerDataError(f"{path}: no polygon in it to use as the area")
    return unary_union(polys)


def build_gazetteer(paths: Sequence[Path | str], *, area: BaseGeometry | None = None) -> Gazetteer:
    """Read OSM files (GeoJSON, Overpass JSON, OSM XML, PBF, CSV name lists) into a gazetteer.
    The same OSM element in several files is taken once, with the tags of every copy."""
    by_ref: dict[tuple[str, int], int] = {}
    features: list[OsmFeature] = []
    for path in paths:
        for feat in read_features(path):
            ref = (feat.osm_type, feat.osm_id) if feat.osm_type and feat.osm_id is not None else None
            if ref in by_ref:
                first = features[by_ref[ref]]
                features[by_ref[ref]] = OsmFeature(
                    {**feat.tags, **first.tags}, first.geometry, *ref, first.source
                )
                continue
            if ref:
                by_ref[ref] = len(features)
            features.append(feat)
    projection = LocalProjection.around([area] if area is not None else [f.geometry for f in features])
    entries = _entries(features, projection)
    entries += _intersections(entries, projection)
    return Gazetteer([Entry(**e) for e in entries], area)


# ---- from OSM features to entries -------------------------------------------------------------


def _name(tags: Mapping[str, str]) -> str:
    return tags.get("name") or tags.get("name:sr") or tags.get("name:sr-Latn") or ""


def _variants(feats: Iterable[Any], shorter: bool = False) -> tuple[tuple[str, ...], dict[str, str]]:
    """Every name of the features (name, name:sr, alt_name:sr-Latn, old_name ...) -> its tag."""
    tag_of: dict[str, str] = {}
    for f in feats:
        for base in NAME_TAGS:
            for tag in (base, base + ":sr", base + ":sr-Latn", base + ":sr-Cyrl"):
                for value in (f.tags.get(tag) or "").split(";"):
                    if value.strip():
                        tag_of.setdefault(value.strip(), tag)
        if f.tags.get("name:en"):
            tag_of.setdefault(f.tags["name:en"], "name:en")
    for v in list(tag_of) if shorter else ():
        for s in shorter_names(v):
            tag_of.setdefault(s, "derived")
    return tuple(tag_of), {v: t for v, t in tag_of.items() if t != "name"}


def _classify(feat: OsmFeature) -> str | None:
    tags, geom = feat.tags, feat.geometry
    if not _name(tags):
        return None
    if geom is None:
        return "known"
    polygonal = geom.geom_type in ("Polygon", "MultiPolygon")
    linear = geom.geom_type in ("LineString", "MultiLineString")
    if tags.get("place") == "square" or (polygonal and "highway" in tags):
        return "square"
    if tags.get("place") in AREA_PLACES or tags.get("boundary") or tags.get("landuse") in ("residential",):
        return "area"
    if "highway" in tags and linear:
        return "street"
    if not any(k in tags for k in CLASS_KEYS):  # a bare named polygon is an area, a bare named line a square
        return "area" if polygonal else ("square" if linear else "landmark")
    return None if linear and feat.osm_type != "relation" else "landmark"  # rivers, railways, walls: none


def _reach(metric: BaseGeometry) -> tuple[Point, float]:
    """The centre of a metric geometry and how far it reaches from it."""
    c = metric.centroid
    xy = shapely.get_coordinates(metric)
    return c, (float(((xy - (c.x, c.y)) ** 2).sum(axis=1).max() ** 0.5) if len(xy) else 0.0)


def _refs(feats: Iterable[Any]) -> list[list[Any]]:
    return [[f.osm_type, f.osm_id] for f in feats if getattr(f, "osm_type", None)]


def _entry(
    kind: str, name: str, variants: tuple[str, ...], geometry: BaseGeometry | None, **properties: Any
) -> dict[str, Any]:
    return {"kind": kind, "name": name, "variants": variants, "geometry": geometry, "properties": properties}


def _entries(features: Sequence[OsmFeature], projection: LocalProjection) -> list[dict[str, Any]]:
    by_kind: dict[str, list[Any]] = defaultdict(list)
    for f in features:
        by_kind[_classify(f) or "-"].append(f)
    out = _streets(by_kind["street"], by_kind["square"], projection)
    out += _squares(by_kind["square"], out, projection)
    for f in by_kind["landmark"]:
        centre, reach = _reach(projection.to_metric(f.geometry))
        variants, vtags = _variants([f], shorter=True)
        stop = (
            f.tags.get("highway") in ("bus_stop", "platform")
            or f.tags.get("railway") in ("tram_stop", "halt")
            or f.tags.get("public_transport") in ("platform", "stop_position", "station")
        )
        out.append(
            _entry(
                "landmark" if reach <= BIG_M else "area",
                _name(f.tags),
                variants,
                f.geometry,
                point=projection.lonlat(centre),
                reach_m=round(reach, 1),
                stop=stop,
                osm=_refs([f]),
                tags={k: f.tags[k] for k in LANDMARK_TAGS if k in f.tags},
                variant_tags=vtags,
            )
        )
    for f in by_kind["area"]:
        variants, vtags = _variants([f], shorter=True)
        out.append(_entry("area", _name(f.tags), variants, f.geometry, osm=_refs([f]), variant_tags=vtags))
    for f in features:
        street, hn = f.tags.get("addr:street") or f.tags.get("addr:place"), f.tags.get("addr:housenumber")
        if street and hn and f.geometry is not None:
            point = (
                f.geometry
                if f.geometry.geom_type == "Point"
                else projection.to_wgs84(projection.to_metric(f.geometry).centroid)
            )
            out.append(
                _entry("address", f"{street} {hn}", (), point, street=street, housenumber=hn, osm=_refs([f]))
            )
    have = {keys(v) for e in out for v in e["variants"]}
    for f in by_kind["known"]:
        variants = tuple(v for v in _variants([f])[0] if keys(v) not in have)
        have.update(keys(v) for v in variants)
        if variants:
            out.append(_entry("known", _name(f.tags), variants, None))
    _short_variants(out)
    return out


def _streets(
    feats: Sequence[OsmFeature], squares: list[Any], projection: LocalProjection
) -> list[dict[str, Any]]:
    """One street per name and place: ways of one name closer than SAME_STREET_M are merged."""
    by_name: dict[tuple[str, ...], list[OsmFeature]] = defaultdict(list)
    for f in feats:
        by_name[keys(_name(f.tags))].append(f)
    out = []
    for key, group in by_name.items():
        metric = [projection.to_metric(f.geometry) for f in group]
        left, right = shapely.STRtree(metric).query(metric, predicate="dwithin", distance=SAME_STREET_M)
        parent = list(range(len(group)))
        for a, b in zip(left.tolist(), right.tolist(), strict=True):
            while parent[a] != a:
                a = parent[a]
            while parent[b] != b:
                b = parent[b]
            parent[max(a, b)] = min(a, b)
        comps: dict[int, list[OsmFeature]] = defaultdict(list)
        for i, f in enumerate(group):
            root = i
            while parent[root] != root:
                root = parent[root]
            comps[root].append(f)
        for n, part in enumerate(comps.values()):
            geom = linemerge(
                MultiLineString([g for f in part for g in getattr(f.geometry, "geoms", [f.geometry])])
            )
            merged = projection.to_metric(geom)
            longest = max(getattr(merged, "geoms", [merged]), key=lambda g: g.length)
            variants, vtags = _variants(part)
            name = Counter(_name(f.tags) for f in part).most_common(1)[0][0]
            out.append(
                _entry(
                    "street",
                    name,
                    variants,
                    geom,
                    ref=f"{name}#{n}",
                    key=" ".join(key),
                    osm=_refs(part),
                    highway=Counter(f.tags.get("highway") for f in part).most_common(1)[0][0],
                    length_m=round(merged.length, 1),
                    same_name=len(comps),
                    variant_tags=vtags,
                    point=projection.lonlat(longest.interpolate(0.5, normalized=True)),
                )
            )
            if key[0] in SQUARE_WORDS or any(f.tags.get("place") == "square" for f in part):
                squares.insert(
                    0, OsmFeature({"name": name, "place": "square"}, geom, None, None, "", {"parts": part})
                )
    return out


def _squares(
    feats: Sequence[OsmFeature], streets: Sequence[Mapping[str, Any]], projection: LocalProjection
) -> list[dict[str, Any]]:
    """One square per name; where ways carry the name too, their geometry is the detailed one."""
    by_name: dict[tuple[str, ...], list[OsmFeature]] = defaultdict(list)
    for f in feats:
        by_name[keys(_name(f.tags))].append(f)
    lines = {tuple(e["properties"]["key"].split()): e["geometry"] for e in streets}
    out = []
    for key, same in by_name.items():
        geom = next((f.geometry for f in same if f.geometry.geom_type.endswith("Polygon")), same[0].geometry)
        way = lines.get(key)
        if way is not None and projection.to_metric(way).distance(projection.to_metric(geom)) < BIG_M:
            geom = way
        centre, reach = _reach(projection.to_metric(geom))
        variants, vtags = _variants(
            list(same) + [p for f in same for p in f.extra.get("parts", ())], shorter=True
        )
        out.append(
            _entry(
                "square" if reach <= BIG_M else "area",
                _name(same[0].tags),
                variants,
                geom,
                point=projection.lonlat(centre),
                reach_m=round(reach, 1),
                osm=_refs(same),
                variant_tags=vtags,
            )
        )
    return out


def _short_variants(entries: list[dict[str, Any]]) -> None:
    """``Jedanaeste krajiške`` for ``Jedanaeste krajiške divizije``: a street name of three or more
    words without its last one, when no other name starts the same way."""
    owners: dict[tuple[str, ...], set[int]] = defaultdict(set)
    for i, e in enumerate(entries):
        for k in map(keys, e["variants"]):
            for n in range(2, len(k) + 1):
                owners[k[:n]].add(i)
    for i, e in enumerate(entries):
        new = {}
        for v in e["variants"] if e["kind"] == "street" else ():
            toks = tokenize(v, skip_links=False)
            content = [t for t in toks[:-1] if len(t.fold) >= 4 or t.key.startswith("#")]
            if (
                len(toks) >= 3
                and len(content) >= 2
                and v[toks[-2].end : toks[-1].start].strip() in ("", "-")
                and not toks[-1].key.startswith("#")
                and owners.get(keys(v)[:-1]) == {i}
            ):
                new[v[: toks[-2].end]] = "short"
        e["variants"] = tuple(e["variants"]) + tuple(s for s in new if s not in e["variants"])
        e["properties"].setdefault("variant_tags", {}).update(new)


def _intersections(entries: Sequence[Mapping[str, Any]], projection: LocalProjection) -> list[dict[str, Any]]:
    """One entry per pair of differently named streets that meet, with each meeting point."""
    streets = [e for e in entries if e["kind"] == "street"]
    if not streets:
        return []
    metric = [projection.to_metric(e["geometry"]) for e in streets]
    left, right = shapely.STRtree(metric).query(metric, predicate="dwithin", distance=MEET_M)
    out = []
    for a, b in zip(left.tolist(), right.tolist(), strict=True):
        pa, pb = streets[a]["properties"], streets[b]["properties"]
        if a >= b or pa["key"] == pb["key"]:
            continue
        inter = metric[a].intersection(metric[b])
        points = [p.centroid for p in getattr(inter, "geoms", [inter]) if not p.is_empty]
        if not points:  # they only come close
            points = [shapely.shortest_line(metric[a], metric[b]).centroid]
        clusters: list[list[Point]] = []
        for p in points:
            home = next((c for c in clusters if any(p.distance(q) <= CLUSTER_M for q in c)), None)
            home.append(p) if home is not None else clusters.append([p])
        centres = [shapely.MultiPoint(c).centroid for c in clusters]
        geom = projection.to_wgs84(shapely.MultiPoint(centres) if len(centres) > 1 else centres[0])
        out.append(
            _entry(
                "intersection",
                f"{streets[a]['name']} / {streets[b]['name']}",
                (),
                geom,
                streets=[pa["ref"], pb["ref"]],
                points=len(centres),
            )
        )
    return out
