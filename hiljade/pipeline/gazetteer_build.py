"""Building the gazetteer from OSM features: classify, merge streets, squares, intersections.

Kinds made here (see ``gazetteer``): street (ways of one name merged; far-apart namesakes stay
separate), square, landmark, address, area, known (names without geometry) and intersection (two
streets that cross or come within a few metres). Pure: the features come in already read.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import shapely
from shapely.geometry import MultiLineString, Point
from shapely.geometry.base import BaseGeometry
from shapely.ops import linemerge

from hiljade.pipeline.gazetteer import Entry, Gazetteer
from hiljade.pipeline.geometry import LocalProjection
from hiljade.pipeline.groups import DisjointSets
from hiljade.pipeline.normalize import keys, shorter_names, tokenize
from hiljade.pipeline.osm_features import OsmFeature, merge_copies


def _words(text: str) -> frozenset[str]:
    """A set of words written as one string."""
    return frozenset(text.split())


def _seq(text: str) -> tuple[str, ...]:
    """A tuple of words written as one string."""
    return tuple(text.split())


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
    "amenity shop tourism building leisure historic office highway public_transport railway landuse "
    "natural place aeroway addr:street addr:housenumber"
)


def build_gazetteer(features: Iterable[OsmFeature], *, area: BaseGeometry | None = None) -> Gazetteer:
    """A gazetteer from OSM features (as read from GeoJSON, Overpass JSON, OSM XML, PBF, CSV name
    lists). The same OSM element given several times is taken once, with the tags of every copy."""
    merged = merge_copies(features)
    projection = LocalProjection.around([area] if area is not None else [f.geometry for f in merged])
    entries = _entries(merged, projection)
    entries += _intersections(entries, projection)
    return Gazetteer([Entry(**e) for e in entries], area)


def _name(tags: Mapping[str, str]) -> str:
    """The main name: ``name`` (or its Serbian forms), else any other name tag (a place known only by
    its ``loc_name`` or ``old_name`` is still a place)."""
    for base in NAME_TAGS:
        for tag in (base, base + ":sr", base + ":sr-Latn", base + ":sr-Cyrl"):
            value = (tags.get(tag) or "").split(";")[0].strip()
            if value:
                return value
    return ""


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
        sets = DisjointSets(range(len(group)))
        for a, b in zip(left.tolist(), right.tolist(), strict=True):
            sets.union(a, b)
        comps = [[group[i] for i in members] for members in sets.groups().values()]
        for n, part in enumerate(comps):
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
