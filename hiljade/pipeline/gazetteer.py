"""The OSM gazetteer index: streets, squares, landmarks, addresses, intersections and named areas.

Built once from OSM features (``gazetteer_build.build_gazetteer``), kept as plain rows
(``to_rows``/``from_rows``: kind, name, variants, geometry as GeoJSON text, properties) and indexed
by folded name keys for the geoparser. Distances are metres in the local projection of ``geometry``
around the area's (or the data's) centre.
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
from typing import Any

import shapely
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry
from shapely.prepared import prep

from hiljade.pipeline.fuzzy import damerau1, deletions
from hiljade.pipeline.geometry import LocalProjection
from hiljade.pipeline.morphology import feminine_adjective, fleeting_a, sibilant_alternative
from hiljade.pipeline.normalize import keys, tokenize
from hiljade.pipeline.numerals import housenumber_keys

FUZZY_MIN = 7  # a name word needs a key this long before one wrong letter is forgiven
MAX_FUZZY_KEY = 48  # longer than any name word: such a "word" is noise, and its deletions would cost memory


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
        """One word only: a landmark named so needs support from the rest of the post, unless the name
        is one the maintainers listed for it (a local name: ``Staklenac``)."""
        return len(self.keys) == 1 and not all(tag == "local_name" for _, _, tag in self.members)


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
        """Name keys one edit away from ``key`` (none for a key longer than any name: MAX_FUZZY_KEY)."""
        if len(key) > MAX_FUZZY_KEY:
            return set()
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
