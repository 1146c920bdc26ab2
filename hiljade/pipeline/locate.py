"""Choose where a post's camera is, from every piece of evidence, strongest first.

Order: ``extra`` (EXIF, exact platform coordinates, from the caller), then coordinates, map links
and plus codes in the text (``textgeo``), then the geoparser on the gazetteer, then the online
geocoder (only when the gazetteer found nothing). Every candidate is checked against the area:
outside ones are kept as ``rejected`` and never chosen. An automatic candidate beats one that needs
review; among equals the earlier kind of evidence wins. When the geoparser cannot tell between
different places, nothing is chosen and the post waits for review.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from hiljade.pipeline.gazetteer import Gazetteer
from hiljade.pipeline.geoparser import parse
from hiljade.pipeline.textgeo import find_coordinates
from hiljade.records import Candidate

OUTCOMES = ("located", "pending_review", "nothing", "outside_area")


@dataclass(frozen=True)
class Located:
    """The chosen candidate (or None), every candidate considered, and what it came to."""

    chosen: Candidate | None
    candidates: tuple[Candidate, ...]
    outcome: str  # located, pending_review, nothing, outside_area


def _checked(cands: Sequence[Candidate], gazetteer: Gazetteer | None) -> list[Candidate]:
    out = []
    for c in cands:
        if c.status != "rejected" and gazetteer is not None and not gazetteer.contains(c.lat, c.lon):
            c = dataclasses.replace(
                c, status="rejected", evidence={**c.evidence, "rejected": "outside the area"}
            )
        out.append(c)
    return out


def locate(
    text: str,
    gazetteer: Gazetteer | None,
    *,
    extra: Sequence[Candidate] = (),
    geocode: Callable[[str], list[Candidate]] | None = None,
) -> Located:
    """Every candidate for a post, the one chosen, and the outcome (see the module docstring)."""
    area = gazetteer.area if gazetteer is not None else None
    reference = gazetteer.centre if gazetteer is not None else None
    written = find_coordinates(text, area=area, reference=reference)
    groups = [_checked(extra, gazetteer), _checked(written, gazetteer)]
    parsed = _checked(parse(text, gazetteer), gazetteer) if gazetteer is not None and text else []
    groups.append(parsed)
    usable = [c for g in groups for c in g if c.status != "rejected"]
    if geocode is not None and not usable and not parsed and text.strip():
        groups.append(_checked(geocode(text), gazetteer))
    candidates = tuple(c for g in groups for c in g)
    chosen = _choose(groups)
    if chosen is not None:
        outcome = "located" if chosen.status == "auto" else "pending_review"
    elif any(c.status != "rejected" for c in candidates):
        outcome = "pending_review"  # several places, no way to tell: a reviewer decides
    elif candidates and all(_outside(c) for c in candidates):
        outcome = "outside_area"
    else:
        outcome = "nothing"
    return Located(chosen, candidates, outcome)


def _outside(c: Candidate) -> bool:
    return c.status == "rejected" and "outside" in str(c.evidence.get("rejected", ""))


def _choose(groups: Sequence[Sequence[Candidate]]) -> Candidate | None:
    for wanted in ("auto", "pending_review"):
        for group in groups:
            usable = [c for c in group if c.status != "rejected"]
            if not usable:
                continue
            best = usable[0]
            if best.evidence.get("ambiguous"):
                continue
            if best.status == wanted:
                return best
    return None
