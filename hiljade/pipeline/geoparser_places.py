"""Candidate positions at squares and landmarks: the place named alone, or where a street named with
it meets it.

A square or landmark named alone -> its point, automatic only when its size is known and small enough
(a square or park mapped as a single point claims no precision it cannot keep); a one-word landmark
name needs support from the rest of the post. A street named with a square or a large landmark it meets
-> the point where they meet, not the centre of the square.
"""

from __future__ import annotations

from typing import Final

from shapely.geometry import Point

from hiljade.pipeline.gazetteer import Entry, Gazetteer
from hiljade.pipeline.geoparser_candidates import Draft, corner_cue, evidence_of, span_of
from hiljade.pipeline.geoparser_mentions import Mention
from hiljade.pipeline.normalize import Token, keys

LARGE_M: Final = 150.0  # a square or landmark reaching further than this is no position without review
POINT_M: Final = 25.0  # a landmark reaching no further than this is a spot: its own point beats a meeting
MEET_M: Final = 15.0  # a street meets a square or a large landmark when it comes this close to its outline
_PLACE_KINDS: Final = frozenset(("square", "landmark"))  # what a street named with a place may meet
UNKNOWN_SIZE_M: Final = 100.0  # the precision of a place that is an area by nature but mapped as a point
AREA_LIKE: Final = {  # tags of places that are areas by nature: mapped as a point, their size is unknown
    "leisure": {"park", "garden", "stadium", "sports_centre", "pitch", "nature_reserve", "marina"},
    "amenity": {"university", "college", "hospital", "marketplace", "parking", "bus_station", "grave_yard"},
    "railway": {"station"},
    "public_transport": {"station"},
    "historic": {"fort", "castle", "archaeological_site"},
    "tourism": {"zoo", "theme_park", "camp_site"},
    "landuse": None,  # any value
    "natural": None,
    "place": None,
    "aeroway": None,
}


def point_drafts(places: list[Mention], tokens: list[Token], gaz: Gazetteer, used: set[int]) -> list[Draft]:
    """Squares and landmarks named in the post; a one-word landmark name needs support."""
    out: list[Draft] = []
    for m in places:
        if id(m) in used or m.role != "place" or not ({"square", "landmark"} & m.kinds.keys()):
            continue
        if "street" in m.kinds and any(d.startswith("house number") for d in m.doubts):
            continue  # "Terazije 34": a house we do not know is somewhere on the street
        if "square" in m.kinds:
            eids, method = m.kinds["square"], "square"
        elif "street" not in m.kinds:  # bus stops are named after the place they serve
            eids = [e for e in m.kinds["landmark"] if not gaz.entries[e].properties.get("stop")]
            eids, method = eids or m.kinds["landmark"], "landmark"
        else:
            continue
        clusters: list[list[int]] = []  # namesakes within 100 m are one place (two bars of one pub)
        for eid in eids:
            home = next(
                (c for c in clusters if gaz.distance_to(c[0], *gaz.entries[eid].point) <= 100.0), None
            )
            home.append(eid) if home is not None else clusters.append([eid])
        for cluster in clusters:
            entry = gaz.entries[cluster[0]]
            ev = evidence_of(m, gaz, cluster[0], same_name_nearby=len(cluster))
            if method == "landmark" and (m.group.weak or ev["doubts"]):
                ev["support"] = _support(m, cluster[0], places, gaz)
                if not ev["support"]:
                    continue  # "Lilly", "Pizza": a shop name alone is not a place
            reach = float(entry.properties.get("reach_m", 0.0))
            unknown = gaz.remember(("size unknown", cluster[0]), _size_unknown, entry)
            ev["doubts"] += (
                [f"a large place, {reach:.0f} m from its centre to its edge"] if reach > LARGE_M else []
            ) + ([f"a {unknown} mapped as a point: its size is unknown"] if unknown else [])
            out.append(
                Draft(
                    method,
                    *entry.point,
                    max(25.0, reach, UNKNOWN_SIZE_M if unknown else 0.0),
                    span_of(tokens, m),
                    f"{method}:{entry.name}",
                    cluster,
                    ev,
                )
            )
        used.add(id(m))
    return out


def _size_unknown(entry: Entry) -> str:
    """What a square or landmark is when it is an area by nature but mapped as a point, else ""."""
    if entry.geometry is None or entry.geometry.geom_type != "Point":
        return ""
    if entry.kind == "square":
        return "square"
    tags = entry.properties.get("tags", {})
    for key, values in AREA_LIKE.items():
        if key in tags and (values is None or tags[key] in values):
            return tags[key].replace("_", " ") if values is not None else key
    return ""


def meeting_drafts(
    places: list[Mention], tokens: list[Token], text: str, gaz: Gazetteer, used: set[int]
) -> list[Draft]:
    """A street named with a square or a large landmark it meets, in one sentence: the point of the
    street nearest the place's centre, where they meet (not the centre of the square)."""
    out: list[Draft] = []
    for a in (m for m in places if "street" in m.kinds and id(m) not in used):
        for b in places:
            if b is a or id(b) in used or b.role != "place" or not _PLACE_KINDS.intersection(b.kinds):
                continue
            spots = [
                e
                for e in b.kinds.get("square", []) + b.kinds.get("landmark", [])
                if gaz.entries[e].properties.get("reach_m", 0.0) > POINT_M
            ]
            if not spots:
                continue
            if tokens[a.i].sentence != tokens[b.i].sentence:
                continue
            cue = corner_cue(tokens, text, *sorted((a, b), key=lambda m: m.i))
            found = [(s, q, *_meeting(gaz, s, q)) for s in a.kinds["street"] for q in spots]
            found = [f for f in found if f[2] is not None]
            if cue is None or not found or (not cue and a.role == "weak"):
                continue
            for s, q, pt, along in found:
                ev_a, ev_b = evidence_of(a, gaz, s), evidence_of(b, gaz, q)
                doubts = ev_a.pop("doubts") + ev_b.pop("doubts")
                doubts += ["several places carry these names"] if len(found) > 1 else []
                doubts += [] if cue else ["no corner word between the names"]
                doubts += [f"the street runs along it for {along:.0f} m"] if along / 2 > LARGE_M else []
                name = f"{gaz.entries[s].name} / {gaz.entries[q].name}"
                ev = {"entry": name, "kind": "meeting", "cue": cue, "streets": [ev_a, ev_b], "doubts": doubts}
                precision, source = max(30.0, along / 2), f"intersection:{name}"
                assert pt is not None
                out.append(
                    Draft("intersection", pt[0], pt[1], precision, span_of(tokens, a, b), source, [q], ev)
                )
            used.update((id(a), id(b)))
            break
    return out


def _meeting(gaz: Gazetteer, street: int, place: int) -> tuple[tuple[float, float] | None, float]:
    """Where a street meets a square or landmark (lat, lon), and how long it runs along its outline;
    worked out once per gazetteer."""
    return gaz.remember(("meeting", street, place), _meet, gaz, street, place)


def _meet(gaz: Gazetteer, street: int, place: int) -> tuple[tuple[float, float] | None, float]:
    proj = gaz.projection
    line = proj.to_metric(gaz.entries[street].geometry)
    area = proj.to_metric(gaz.entries[place].geometry)
    if line.distance(area) > MEET_M:
        return None, 0.0
    lat, lon = gaz.entries[place].point
    centre = proj.to_metric(Point(lon, lat))
    spot = line.interpolate(line.project(centre))
    along = line.intersection(area.buffer(MEET_M)).length
    spot = proj.to_wgs84(spot)
    return (spot.y, spot.x), along


def _support(m: Mention, eid: int, places: list[Mention], gaz: Gazetteer) -> str:
    """Why a one-word landmark name is believed: its street is named too, or a longer name of it."""
    entry = gaz.entries[eid]
    street = entry.properties.get("tags", {}).get("addr:street")
    for s in places:
        if s is m or s.role != "place":
            continue
        if eid in {e for e, _, _ in s.group.members} and not s.group.weak:
            return f"also named {s.group.members[0][1]}"
        if street and keys(street) in {keys(v) for _, v, _ in s.group.members}:
            return f"on {street}"
        near = [e for e in s.kinds.get("street", []) if gaz.distance_to(e, *entry.point) <= 60.0]
        if near:
            return f"next to {gaz.entries[near[0]].name}"
    return ""
