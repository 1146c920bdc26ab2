"""Local names: the nicknames, short forms and old names people use for places, from a maintainers' list.

Each ``LocalName`` names a place by a gazetteer item, either an OSM reference (``way/123``) or any name
of an entry (``Трг републике``; Cyrillic or Latin, as the index folds them; ``A | B`` tries both), or
by coordinates (``44.8163, 20.4603``), with the kind of place it is (street, square, landmark).
``add_local_names`` makes each name a variant of its entries (tag ``local_name``, its source kept in
``local_names``) or, for coordinates, a new entry. A name whose item is not in the gazetteer is left
out and reported: it cannot be placed, and inventing a position for it would be worse. Pure: the rows
come in already read.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shapely.geometry import Point

from hiljade.errors import GazetteerDataError
from hiljade.pipeline.gazetteer import Entry, Gazetteer
from hiljade.pipeline.normalize import keys

KINDS = ("street", "square", "landmark")
TAG = "local_name"
_OSM_REF = re.compile(r"^(node|way|relation)/(\d+)$")
_COORDS = re.compile(r"^\s*(-?\d{1,2}(?:\.\d+)?)\s*[,;]\s*(-?\d{1,3}(?:\.\d+)?)\s*$")


@dataclass(frozen=True)
class LocalName:
    """One row of a local-names file: the name people use, the place it stands for, and why we know."""

    name: str
    item: str  # an OSM reference, a name of a gazetteer entry (or several: "A | B"), or "lat, lon"
    kind: str  # street, square or landmark
    source: str = ""
    origin: str = ""  # file and line, for messages

    @property
    def coordinates(self) -> tuple[float, float] | None:
        """(lat, lon) when the item is written as coordinates."""
        m = _COORDS.match(self.item)
        return (float(m.group(1)), float(m.group(2))) if m else None


def parse_local_names(rows: Iterable[Mapping[str, Any]], origin: str = "") -> list[LocalName]:
    """Local names from CSV rows (``name``, ``item``, ``kind``, ``source``, and ``line`` when the reader
    knows it); GazetteerDataError naming the line of the first bad row."""
    out = []
    for n, row in enumerate(rows, 2):  # line 1 is the header
        number = row.get("line") or n
        name, item = (str(row.get(k) or "").strip() for k in ("name", "item"))
        kind = str(row.get("kind") or "").strip().lower()
        where = f"{origin}, line {number}"
        if not name or not item:
            raise GazetteerDataError(f"{where}: a local name needs a name and an item")
        if kind not in KINDS:
            raise GazetteerDataError(
                f"{where}: kind must be one of {', '.join(KINDS)}, not {kind or 'empty'}"
            )
        entry = LocalName(name, item, kind, str(row.get("source") or "").strip(), where)
        point = entry.coordinates
        if point is not None and not (-90 <= point[0] <= 90 and -180 <= point[1] <= 180):
            raise GazetteerDataError(f"{where}: {item} is not a latitude and a longitude")
        if point is not None and kind == "street":
            raise GazetteerDataError(f"{where}: a street is a line; name it by its gazetteer item")
        out.append(entry)
    return out


def _index(gaz: Gazetteer) -> tuple[dict[tuple[str, int], list[int]], dict[tuple[str, ...], list[int]]]:
    """Entries by OSM reference and by the keys of each of their names."""
    by_ref: dict[tuple[str, int], list[int]] = {}
    by_key: dict[tuple[str, ...], list[int]] = {}
    for i, e in enumerate(gaz.entries):
        for kind, ident in e.properties.get("osm", []) if e.kind != "address" else ():
            by_ref.setdefault((kind, int(ident)), []).append(i)
        for v in e.variants:
            by_key.setdefault(keys(v), []).append(i)
    return by_ref, by_key


def _targets(
    gaz: Gazetteer, local: LocalName, index: tuple[dict[Any, list[int]], dict[Any, list[int]]]
) -> list[int]:
    """The entries a local name stands for: by OSM reference, else by name among entries of its kind
    (a square's ways too), else among names known without geometry. An item may name its place
    several ways, ``A | B``: the first the gazetteer has wins."""
    known: list[int] = []
    for item in (part.strip() for part in local.item.split("|")):
        ref = _OSM_REF.match(item)
        if ref:
            found = list(dict.fromkeys(index[0].get((ref.group(1), int(ref.group(2))), [])))
        else:
            kinds = {local.kind} | ({"street"} if local.kind == "square" else set())
            found = [i for i in dict.fromkeys(index[1].get(keys(item), [])) if gaz.entries[i].kind in kinds]
            known = known or [i for i in index[1].get(keys(item), []) if gaz.entries[i].kind == "known"]
        if found:
            return found
    return known


def add_local_names(gaz: Gazetteer, names: Sequence[LocalName]) -> tuple[Gazetteer, list[LocalName]]:
    """The gazetteer with the local names added, and the names whose item it does not have."""
    if not names:
        return gaz, []
    entries = list(gaz.entries)
    index = _index(gaz)
    unused = []
    for local in names:
        point = local.coordinates
        if point is not None:
            lat, lon = point
            props = {
                "point": [lon, lat],
                "reach_m": 0.0,
                "variant_tags": {local.name: TAG},
                "local_names": {local.name: local.source},
            }
            entries.append(Entry(local.kind, local.name, (local.name,), Point(lon, lat), props))
            continue
        targets = _targets(gaz, local, index)
        if not targets:
            unused.append(local)
        for i in targets:
            e = entries[i]
            same = [v for v in e.variants if keys(v) == keys(local.name)]  # the data may have it already
            props = dict(e.properties)
            props["variant_tags"] = {
                **props.get("variant_tags", {}),
                **dict.fromkeys(same or [local.name], TAG),
            }
            props["local_names"] = {**props.get("local_names", {}), local.name: local.source}
            variants = e.variants if same else (*e.variants, local.name)
            entries[i] = dataclasses.replace(e, variants=variants, properties=props)
    return Gazetteer(entries, gaz.area), unused
