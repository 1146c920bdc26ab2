"""The Serbian street geoparser: a post's words -> candidate camera positions, best first.

Pure: ``parse(text, gazetteer)``. Names are matched on folded, stemmed keys (both scripts, no
diacritics, declined forms, ordinals in digits or words, one wrong letter in long names), longest
match first. Then: a house number after a street -> address; two streets of one sentence that meet
-> intersection, and so does a street with a square or large landmark it meets (where they meet); a
landmark or square -> its point (automatic only when its size is known and small); a street alone ->
a point on it, for review.
Directions ("okrenuta ka X"), noise ("živim u X"), named areas and places outside the city never
become positions; several different places in one post leave the choice to a reviewer.
"""

from __future__ import annotations

from typing import Final

from hiljade.pipeline.gazetteer import Gazetteer
from hiljade.pipeline.geoparser_candidates import Draft, address_drafts, intersection_drafts, street_drafts
from hiljade.pipeline.geoparser_lexicon import CORNER_WORDS
from hiljade.pipeline.geoparser_mentions import Mention, assign_roles, find_mentions
from hiljade.pipeline.geoparser_places import meeting_drafts, point_drafts
from hiljade.pipeline.normalize import Token, tokenize
from hiljade.records import Candidate

RANK: Final = {"address": 5, "intersection": 4, "landmark": 3, "square": 3, "street": 1}
NEAR_M: Final = 80.0  # another named place closer than this to the best candidate does not contradict it
MAX_TEXT: Final = 20_000  # characters of a text the geoparser reads


def parse(text: str, gazetteer: Gazetteer) -> list[Candidate]:
    """Candidate positions named in ``text``, best first (see the module docstring); only the first
    MAX_TEXT characters are read (a report names its place early; a longer text is no report)."""
    return parse_tokens(text, gazetteer)[0]


def parse_tokens(text: str, gazetteer: Gazetteer) -> tuple[list[Candidate], list[Token]]:
    """``parse``, and the tokens of the text it read (the first MAX_TEXT characters)."""
    text = text[:MAX_TEXT]
    tokens = tokenize(text)
    mentions = find_mentions(tokens, gazetteer) if tokens else []
    places: list[Mention] = []
    if mentions:
        assign_roles(mentions, tokens, text, gazetteer)
        places = [m for m in mentions if m.role in ("place", "weak")]
    cands: list[Draft] = []
    if places or not tokens:  # no place named, no candidate (a text of links alone takes the full path)
        claimed = [(tokens[m.i].start, tokens[m.j - 1].end) for m in mentions]
        used: set[int] = set()
        cands = address_drafts(places, tokens, text, gazetteer, used, claimed)
        cands += intersection_drafts(places, tokens, text, gazetteer, used)
        cands += meeting_drafts(places, tokens, text, gazetteer, used)
        cands += point_drafts(places, tokens, gazetteer, used)
        cands += street_drafts(places, tokens, gazetteer, used)
        judge(cands, mentions, tokens, gazetteer)
    outside = ", ".join([m.outside for m in mentions if m.role == "outside"]) if cands else ""
    out = []
    for c in cands:
        status = "auto" if c.auto else "pending_review"
        if outside:
            status, c.evidence["rejected"] = "rejected", f"the post names a place outside the area: {outside}"
        confidence = c.confidence * (0.6 if c.evidence["doubts"] else 1.0)
        out.append(
            Candidate(  # lat, lon, method, precision_m, confidence, status, matched, span, source, evidence
                c.lat,
                c.lon,
                c.method,
                round(c.precision, 1),
                round(confidence, 3),
                status,
                text[c.span[0] : c.span[1]],
                c.span,
                c.source,
                c.evidence,
            )
        )
    return out, tokens


def _reach(gaz: Gazetteer, c: Draft) -> float:
    return float(gaz.entries[c.eids[0]].properties.get("reach_m", 0.0))


def _polygon(gaz: Gazetteer, eid: int) -> bool:
    return gaz.entries[eid].geometry.geom_type.endswith("Polygon")  # type: ignore[union-attr]


def judge(cands: list[Draft], mentions: list[Mention], tokens: list[Token], gaz: Gazetteer) -> None:
    """Sort best first; a post that also names a different place goes to review, and when that place
    is as specific as the best one nobody can tell which is meant (``ambiguous``)."""
    if len(cands) < 2:
        if not cands:
            return
    else:
        cands.sort(key=lambda c: (-RANK[c.method], -c.confidence, bool(c.evidence["doubts"]), c.precision))
    best = cands[0]
    for other in cands[1:]:
        if all(
            gaz.distance_to(e, best.lat, best.lon) > NEAR_M + _reach(gaz, other) + _reach(gaz, best)
            for e in other.eids
        ):
            best.evidence["doubts"].append(f"also names {other.source}")
            if RANK[other.method] == RANK[best.method]:
                best.evidence["ambiguous"] = True
    for m in (m for m in mentions if m.role == "area"):
        # "Takovske" or "Takovska ugao ...", not "preko" or a capitalised word opening a sentence
        corner_next = m.j < len(tokens) and tokens[m.j].fold in CORNER_WORDS
        named = tokens[m.i].upper and (not tokens[m.i].first or corner_next)
        if best.method == "street" and named and "known" in m.kinds and "area" not in m.kinds:
            # "na uglu Takovske i Dečanske" with no geometry for Takovska: the camera is at a place
            # we cannot draw, and the middle of Dečanska is not it.
            best.evidence["doubts"].append(f"also names {gaz.entries[m.kinds['known'][0]].name}, not mapped")
            best.evidence["ambiguous"] = True
        polys = [e for e in m.kinds.get("area", []) if gaz.remember(("polygon", e), _polygon, gaz, e)]
        if polys and all(gaz.distance_to(e, best.lat, best.lon) > 300.0 for e in polys):
            best.evidence["doubts"].append(f"not in {gaz.entries[polys[0]].name}")
