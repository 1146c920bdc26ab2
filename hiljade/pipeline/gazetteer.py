"""The OSM gazetteer index: streets, squares, landmarks, addresses, intersections and named areas.

Built once from OSM features (``gazetteer_build.build_gazetteer``), kept as plain rows
(``to_rows``/``from_rows``: kind, name, variants, geometry as GeoJSON text, properties) and indexed
by folded name keys for the geoparser: by first key, and in one Aho-Corasick automaton over every
name (``NameSpotter``) that finds the names of a post in one scan. Answers about the entries that
repeat from post to post (distances, points in the area, keys one edit away) are remembered per
gazetteer. A gazetteer pickles (the remembered answers are left out; the area is prepared again on
load); ``INDEX_VERSION`` changes whenever what it holds does. Distances are metres in the local
projection of ``geometry`` around the area's (or the data's) centre.
Kinds: street (merged ways of one name; far-apart namesakes stay separate), square, landmark
(named POIs, buildings, stops), address, area (municipalities, neighbourhoods: never a position),
known (names without geometry, e.g. CSV street lists: they only stop lookalikes from matching),
intersection (two streets that cross or come within a few metres), boundary (the area polygon).
"""

from __future__ import annotations

import itertools
import json
import math
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, NamedTuple, TypeVar

import ahocorasick
import shapely
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry

from hiljade.pipeline.fuzzy import damerau1, deletions
from hiljade.pipeline.geometry import LocalProjection
from hiljade.pipeline.morphology import feminine_adjective, fleeting_a, sibilant_alternative
from hiljade.pipeline.normalize import folds, keys, tokenize
from hiljade.pipeline.numerals import housenumber_keys

INDEX_VERSION = 2  # bump whenever the layout of the index a Gazetteer holds changes (pickled copies go stale)
T = TypeVar("T")
FUZZY_MIN = 7  # a name word needs a key this long before one wrong letter is forgiven
MAX_FUZZY_KEY = 48  # longer than any name word: such a "word" is noise, and its deletions would cost memory
MEMO_SIZE = 100_000  # answers remembered per gazetteer (keys one edit away, points in the area)
_CODE_START = 0x100  # the characters of NameSpotter's codes start here
_WIDTH = 3  # characters per word in NameSpotter's text: "|" and a code of two
_NO_NAME = "|  "  # a word whose key no name has


@dataclass(frozen=True)
class Entry:
    """One gazetteer row: what it is, its names, its WGS84 geometry and its properties."""

    kind: str
    name: str
    variants: tuple[str, ...]
    geometry: BaseGeometry | None
    properties: Mapping[str, Any] = field(default_factory=dict)

    @cached_property
    def point(self) -> tuple[float, float]:
        """The (lat, lon) that stands for this entry (worked out once)."""
        p = self.properties.get("point")
        if p:
            return (p[1], p[0])
        c = self.geometry.centroid if self.geometry is not None else Point(0, 0)
        return (c.y, c.x)


class Spelling(NamedTuple):
    """One variant of a name as an entry has it: the variant, its tag, its folded words, its script."""

    variant: str
    tag: str
    folds: tuple[str, ...]
    cyrillic: bool


@dataclass
class NameGroup:
    """Every entry one folded name (a tuple of match keys) can stand for."""

    keys: tuple[str, ...]
    alts: tuple[frozenset[str], ...]
    folds: tuple[str, ...] = ()  # the name's words, folded, for gender agreement
    members: list[tuple[int, str, str]] = field(default_factory=list)  # (entry id, variant, tag)
    index: int = 0  # its place among the gazetteer's names, in the order they were indexed
    kinds: dict[str, list[int]] = field(default_factory=dict)  # its entries by kind, as members has them
    _spellings: dict[int, tuple[Spelling, ...]] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.folds = self.folds or self.keys
        self.feminine = tuple(feminine_adjective(f) for f in self.folds)
        self.agreeing = tuple(k for k, f in enumerate(self.feminine) if f)  # words that must agree

    @property
    def weak(self) -> bool:
        """One word only: a landmark named so needs support from the rest of the post, unless the name
        is one the maintainers listed for it (a local name: ``Staklenac``)."""
        return len(self.keys) == 1 and not all(tag == "local_name" for _, _, tag in self.members)

    def spellings(self, eid: int) -> tuple[Spelling, ...]:
        """How this name is spelled for entry ``eid``: each variant with its tag, folded words and
        script, in the order of ``members`` (worked out once)."""
        found = self._spellings.get(eid)
        if found is None:
            found = self._spellings[eid] = tuple(
                Spelling(v, t, folds(v), any("\u0400" <= ch <= "\u04ff" for ch in v))
                for e, v, t in self.members
                if e == eid
            )
        return found


class NameSpotter:
    """Every place a name of the gazetteer is written in a post, in one Aho-Corasick scan.

    Each match key a name can take gets a code of two characters, and each word of a post becomes
    ``|`` and its key's code (``|``, two spaces: a key no name has), so a name is a pattern of as many
    codes as it has words, and a closing ``|``: its first word exactly as indexed (the first key, as
    ``Gazetteer.by_first`` has it), each later word in any of its forms (``NameGroup.alts``). Two
    characters of a small alphabet, not one character per key, keep every node of the automaton
    small. What a pattern does not say (gender agreement) the caller checks."""

    def __init__(self, groups: Sequence[NameGroup]) -> None:
        forms = [[(g.keys[0],), *(sorted(a) for a in g.alts[1:])] for g in groups]
        words = list(dict.fromkeys(w for f in forms for words in f for w in words))
        base = max(2, math.isqrt(max(0, len(words) - 1)) + 1)  # base * base >= len(words)
        self.codes: dict[str, str] = {
            w: "|" + chr(_CODE_START + n // base) + chr(_CODE_START + n % base) for n, w in enumerate(words)
        }
        patterns: dict[str, dict[int, None]] = {}
        for group, f in zip(groups, forms, strict=True):
            for name in itertools.product(*f):
                patterns.setdefault("".join(map(self.codes.__getitem__, name)) + "|", {})[group.index] = None
        self.automaton: ahocorasick.Automaton | None = None
        if patterns:
            self.automaton = ahocorasick.Automaton()
            for pattern, found in patterns.items():
                self.automaton.add_word(pattern, (len(pattern) // _WIDTH, tuple(found)))
            self.automaton.make_automaton()

    def spot(self, words: Iterable[str]) -> list[tuple[int, int]]:
        """(first word, name index) of every name whose keys match ``words`` (match keys), in text
        order and, at one word, in the order the names were indexed."""
        if self.automaton is None:
            return []
        text = "".join(map(self.codes.get, words, itertools.repeat(_NO_NAME))) + "|"
        out = [(end // _WIDTH - n, g) for end, (n, found) in self.automaton.iter(text) for g in found]
        if len(out) > 1:
            out.sort()
        return out


class Gazetteer:
    """Indexed gazetteer entries plus the area polygon (see the module docstring)."""

    def __init__(self, entries: Sequence[Entry], area: BaseGeometry | None = None) -> None:
        self.entries: list[Entry] = list(entries)
        self.area = area
        if area is not None:
            shapely.prepare(area)  # point-in-area tests in place; a pickled copy prepares again on load
        self.projection = LocalProjection.around(
            [area] if area is not None else [e.geometry for e in entries]
        )
        self.by_first: dict[str, list[NameGroup]] = {}
        self.fuzzy_first: dict[str, set[str]] = {}
        self.addresses: dict[tuple[str, ...], dict[str, list[int]]] = {}
        self.intersections: dict[frozenset[int], int] = {}
        self._metric: dict[int, BaseGeometry] = {}
        self._near: dict[str, tuple[str, ...]] = {}  # fuzzy_keys answers, sorted
        self._inside: dict[tuple[float, float], bool] = {}
        self._answers: dict[Hashable, Any] = {}  # see remember
        groups: dict[tuple[str, ...], NameGroup] = {}
        refs: dict[str, int] = {}
        for eid, entry in enumerate(self.entries):
            if entry.kind == "address":
                street = keys(entry.properties.get("street", ""))
                for hn in housenumber_keys(entry.properties.get("housenumber", "")):
                    self.addresses.setdefault(street, {}).setdefault(hn, []).append(eid)
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
                    groups[k] = NameGroup(
                        k, alts, tuple(t.fold for t in tokenize(variant, skip_links=False)), index=len(groups)
                    )
                    self.by_first.setdefault(k[0], []).append(groups[k])
                    for w in (w for w in k if len(w) >= FUZZY_MIN and not w.startswith("#")):
                        for d in deletions(w) | {w}:
                            self.fuzzy_first.setdefault(d, set()).add(w)
                if k and entry.kind != "address":
                    groups[k].members.append((eid, variant, tags.get(variant, "name")))
        self.name_keys = {w for k in groups for w in k}
        self.groups: list[NameGroup] = list(groups.values())
        for group in self.groups:
            for eid in dict.fromkeys(e for e, _, _ in group.members):
                group.kinds.setdefault(self.entries[eid].kind, []).append(eid)
        self.spotter = NameSpotter(self.groups)
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
        """True when (lat, lon) lies in the area polygon (its edge too), or when no area is set."""
        if self.area is None:
            return True
        inside = self._inside.get((lat, lon))
        if inside is None:
            if len(self._inside) >= MEMO_SIZE:
                self._inside.clear()
            inside = self._inside[(lat, lon)] = bool(shapely.intersects_xy(self.area, lon, lat))
        return inside

    def near_keys(self, keys: Sequence[str]) -> list[tuple[str, ...]]:
        """For each key, the name keys one edit away (``fuzzy_keys``, sorted: which near name is tried
        first must not depend on the hash seed of the process), or none when it is a name's own key;
        remembered."""
        found = list(map(self._near.get, keys))
        if None in found:
            if len(self._near) >= MEMO_SIZE:
                self._near.clear()
            for n, key in enumerate(keys):
                if found[n] is None:
                    near = () if key in self.name_keys else tuple(sorted(self.fuzzy_keys(key)))
                    found[n] = self._near[key] = near
        return found

    def corner(self, eid: int) -> tuple[float, float, int]:
        """Where the streets of intersection ``eid`` meet (lat, lon; of several places, the one nearest
        their middle) and at how many places; remembered."""
        return self.remember(("corner", eid), self._corner, eid)

    def _corner(self, eid: int) -> tuple[float, float, int]:
        geom = self.entries[eid].geometry
        pts = list(getattr(geom, "geoms", [geom]))
        centre = geom.centroid if len(pts) > 1 else pts[0]
        pt = min(pts, key=centre.distance)
        return pt.y, pt.x, len(pts)

    def __getstate__(self) -> dict[str, Any]:
        # answers worked out and remembered along the way are no part of the index
        return {**self.__dict__, "_metric": {}, "_near": {}, "_inside": {}, "_answers": {}}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if self.area is not None:
            shapely.prepare(self.area)  # preparation is not pickled

    def distance_to(self, eid: int, lat: float, lon: float) -> float:
        """Metres from (lat, lon) to an entry's geometry (inf when it has none); remembered."""
        return self.remember(("distance", eid, lat, lon), self._distance, eid, lat, lon)

    def _distance(self, eid: int, lat: float, lon: float) -> float:
        geom = self._metric.get(eid)
        if geom is None:
            if self.entries[eid].geometry is None:
                return math.inf
            geom = self._metric[eid] = self.projection.to_metric(self.entries[eid].geometry)
        return geom.distance(self.projection.to_metric(Point(lon, lat)))

    def remember(self, key: Hashable, work: Callable[..., T], *args: Any) -> T:
        """``work(*args)``, worked out once per ``key`` (an answer about this gazetteer's entries that
        depends on nothing else, so it can be given again)."""
        try:
            return self._answers[key]
        except KeyError:
            if len(self._answers) >= MEMO_SIZE:
                self._answers.clear()
            found = self._answers[key] = work(*args)
            return found

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
