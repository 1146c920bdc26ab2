"""Choose where a post's camera is, from every piece of evidence, strongest first.

Order: ``extra`` (EXIF, exact platform coordinates, from the caller), then coordinates, map links
and plus codes in the text (``textgeo``), then the geoparser on the gazetteer, then the online
geocoder (only when the gazetteer found nothing). A candidate whose position no place has (a
latitude beyond ±90, a longitude beyond ±180, 0/0, not a number) is dropped, whatever read it.
Every candidate is checked against the area:
outside ones are kept as ``rejected`` and never chosen. An automatic candidate beats one that needs
review; among equals the earlier kind of evidence wins. When the geoparser cannot tell between
different places, nothing is chosen and the post waits for review. When nothing is chosen,
``reason`` says why in plain words (``explain``).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from hiljade.pipeline.gazetteer import Gazetteer
from hiljade.pipeline.geometry import valid_position
from hiljade.pipeline.geoparser import MAX_TEXT, parse_tokens
from hiljade.pipeline.geoparser_lexicon import CORNER_WORDS, STREET_WORDS, TYPE_WORDS
from hiljade.pipeline.normalize import Token, tokenize
from hiljade.pipeline.textgeo import find_coordinates
from hiljade.records import Candidate

OUTCOMES: Final = ("located", "pending_review", "nothing", "outside_area")
_CUE_WORDS: Final = STREET_WORDS | TYPE_WORDS | CORNER_WORDS  # a word after one of these may be a place name


@dataclass(frozen=True)
class Located:
    """The chosen candidate (or None), every candidate considered, and what it came to."""

    chosen: Candidate | None
    candidates: tuple[Candidate, ...]
    outcome: str  # located, pending_review, nothing, outside_area
    reason: str = ""  # why nothing was chosen, in plain words ("" when a candidate was)


def _checked(cands: Sequence[Candidate], gazetteer: Gazetteer | None) -> list[Candidate]:
    out = []
    for c in cands:
        if not valid_position(c.lat, c.lon):  # no place has it (a stored value from before readers checked)
            continue
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
    groups = [_checked(extra, gazetteer) if extra else [], _checked(written, gazetteer) if written else []]
    parsed: list[Candidate] = []
    tokens: list[Token] | None = None  # the words of the whole text, when the geoparser read it all
    if gazetteer is not None and text:
        found, words = parse_tokens(text, gazetteer)
        parsed = _checked(found, gazetteer) if found else []
        tokens = words if len(text) <= MAX_TEXT else None
    groups.append(parsed)
    asked = (
        geocode is not None
        and not any(c.status != "rejected" for g in groups for c in g)
        and not parsed
        and bool(text.strip())
    )
    if asked:
        groups.append(_checked(geocode(text), gazetteer))  # type: ignore[misc]
    candidates = tuple(itertools.chain.from_iterable(groups))
    chosen = _choose(groups)
    if chosen is not None:
        outcome = "located" if chosen.status == "auto" else "pending_review"
    elif any(c.status != "rejected" for c in candidates):
        outcome = "pending_review"  # several places, no way to tell: a reviewer decides
    elif candidates and all(_outside(c) for c in candidates):
        outcome = "outside_area"
    else:
        outcome = "nothing"
    reason = ""
    if chosen is None:
        reason = explain(text, gazetteer, candidates, outcome, asked, geocode is None, tokens=tokens)
    return Located(chosen, candidates, outcome, reason)


def explain(
    text: str,
    gazetteer: Gazetteer | None,
    candidates: Sequence[Candidate],
    outcome: str,
    asked: bool,
    geocoder_off: bool,
    *,
    tokens: Sequence[Token] | None = None,
) -> str:
    """Why no candidate was chosen: several places, outside the area, a name the gazetteer does not
    know, no place name at all; and what the online geocoder did (``tokens``: those of ``text``, when
    already at hand)."""
    if outcome == "pending_review":
        names = _unique(c.matched or c.method for c in candidates if c.status != "rejected")
        return f"ambiguous: the text fits several places ({', '.join(names)}) and nothing tells which one"
    if outcome == "outside_area":
        why = _unique(str(c.evidence.get("rejected") or "outside the area") for c in candidates)
        return f"outside the area: {'; '.join(why)}"
    names = place_names(text, tokens)
    if gazetteer is None:
        found = f" ({', '.join(names)})" if names else ""
        reason = f"no gazetteer to look place names{found} up in; build one with `hiljade gazetteer build`"
    elif names:
        reason = f"a place name was found ({', '.join(names)}) but it is not in the gazetteer"
    else:
        reason = "no place name found in the text"
    if asked:
        reason += "; the online geocoder found nothing either"
    elif geocoder_off and names:
        reason += "; the online geocoder is off"
    return reason


def place_names(text: str, tokens: Sequence[Token] | None = None) -> list[str]:
    """Words of ``text`` that look like a place name: capitalised words inside a sentence (with a
    capitalised word opening it), and words after a street, square or corner word (``tokens``: those
    of ``text``, when already at hand)."""
    tokens = tokenize(text) if tokens is None else tokens
    names: list[str] = []
    run: list[str] = []
    for i, tok in enumerate(tokens):
        cue = i > 0 and tokens[i - 1].fold in _CUE_WORDS
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        opens = tok.first and tok.upper and nxt is not None and nxt.upper and not nxt.first
        if not tok.fold.isdigit() and ((tok.upper and not tok.first) or cue or opens):  # not a number
            run.append(tok.text)
            continue
        if run:
            names.append(" ".join(run))
        run = []
    if run:
        names.append(" ".join(run))
    return _unique(names)


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _outside(c: Candidate) -> bool:
    return c.status == "rejected" and "outside" in str(c.evidence.get("rejected", ""))


def _choose(groups: Sequence[Sequence[Candidate]]) -> Candidate | None:
    """The first usable candidate of the first group whose first usable one is automatic (and not
    ambiguous), else of the first group whose first usable one needs review."""
    firsts = []
    for group in groups:
        for c in group:
            if c.status != "rejected":
                if not c.evidence.get("ambiguous"):
                    firsts.append(c)
                break
    for wanted in ("auto", "pending_review"):
        for best in firsts:
            if best.status == wanted:
                return best
    return None
