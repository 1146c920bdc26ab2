"""Candidate positions from the names found: addresses, intersections and streets (squares and
landmarks are ``geoparser_places``).

A house number after a street -> address; two streets of one sentence that meet -> intersection;
a street alone -> a point on it, for review. Each ``Draft`` carries its evidence and doubts;
``geoparser.judge`` orders them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

from hiljade.pipeline.gazetteer import Gazetteer, NameGroup, Spelling
from hiljade.pipeline.geoparser_lexicon import (
    CORNER_WORDS,
    COUNT_AFTER,
    JOIN_MARKS,
    JOIN_WORDS,
    NUMBER_AFTER,
    NUMBER_ALONE,
)
from hiljade.pipeline.geoparser_mentions import Mention
from hiljade.pipeline.normalize import Token, keys
from hiljade.pipeline.numerals import housenumber_keys
from hiljade.pipeline.scripts import fold

MAX_CORNER_GAP: Final = 6  # words between two street names that a corner word can still join
_DIGIT: Final = re.compile(r"\d")
_NEXT_WORD: Final = re.compile(r"\s*(\w*)")
_fold: Final = lru_cache(maxsize=10_000)(fold)  # the word after a number, folded: "kamere", "metara"


@dataclass(slots=True)
class Draft:
    """A candidate while it is built and judged: its position, the entries behind it, its evidence."""

    method: str
    lat: float
    lon: float
    precision: float
    span: tuple[int, int]
    source: str
    eids: list[int]
    evidence: dict[str, Any]
    confidence: float = 0.9

    @property
    def auto(self) -> bool:
        """Sure enough to accept without review: not a street alone, no doubts."""
        return self.method != "street" and not self.evidence["doubts"]


def span_of(tokens: list[Token], *ms: Mention) -> tuple[int, int]:
    if len(ms) == 1:
        return tokens[ms[0].i].start, tokens[ms[0].j - 1].end
    return tokens[min([m.i for m in ms])].start, tokens[max([m.j for m in ms]) - 1].end


def evidence_of(m: Mention, gaz: Gazetteer, eid: int, **extra: Any) -> dict[str, Any]:
    """What matched: the entry, the variant of its name and the tag that variant came from."""
    spellings = m.group.spellings(eid)
    if len(spellings) == 1:
        variant, tag = spellings[0].variant, spellings[0].tag
    else:
        key = ("spelling", m.group.index, eid, m.written, m.cyrillic)
        variant, tag = gaz.remember(key, _closest, spellings, m.written, m.cyrillic)
    entry = gaz.entries[eid]
    ev: dict[str, Any] = {
        "entry": entry.name,
        "kind": entry.kind,
        "variant": variant,
        "tag": tag,
        "doubts": m.doubts + ["one wrong letter"] if m.typo else list(m.doubts),
    }
    if extra:
        ev.update(extra)
    return ev


def _closest(spellings: tuple[Spelling, ...], written: tuple[str, ...], cyrillic: bool) -> tuple[str, str]:
    """The spelling of a name closest to the one in the post: most words alike, then the same script."""
    variant, tag, _, _ = max(
        spellings,
        key=lambda s: (sum(a == b for a, b in zip(written, s.folds, strict=False)), s.cyrillic == cyrillic),
        default=("", "", (), False),
    )
    return variant, tag


def address_drafts(
    places: list[Mention],
    tokens: list[Token],
    text: str,
    gaz: Gazetteer,
    used: set[int],
    claimed: list[tuple[int, int]],
) -> list[Draft]:
    """A street with a house number after it, or a lone "broj N" paired with the nearest street."""
    streets = [m for m in places if gaz.addresses.get(m.group.keys) or "street" in m.kinds]
    if not streets and tokens:
        return []  # no street to put a number on
    numbers: dict[int, tuple[Mention, str, tuple[int, int]]] = {}
    digits = _DIGIT.search(text) is not None  # every house number has one
    for m in streets if digits else ():
        hit = NUMBER_AFTER.match(text, tokens[m.j - 1].end)
        if not hit or any(s <= hit.start(1) < e for s, e in claimed):
            continue  # "Boze Baucala 5. kozarske": the number starts the next name
        after = _NEXT_WORD.match(text[hit.end() : hit.end() + 20])
        assert after is not None
        if not (hit.group(2) or hit.group(3)) and (
            _fold(after.group(1)) in COUNT_AFTER or text[hit.end() : hit.end() + 1] in ("-", ":", "%")
        ):
            continue  # "Dečanska 3 kamere", "na 200 metara", "u 7:30"
        number = (
            hit.group(1)
            + (hit.group(2) or "")
            + ("/" + hit.group(3) if hit.group(3) else "")
            + ("-" + hit.group(4) if hit.group(4) else "")
        )
        numbers[id(m)] = (m, number, (tokens[m.i].start, hit.end()))
    # "broj 5" needs "br"; with words but no street, a lone number has nothing to pair with
    alone = digits and bool(streets or not tokens) and any(w in text.lower() for w in ("br", "бр"))
    for hit in NUMBER_ALONE.finditer(text) if alone else ():
        if any(s <= hit.start(1) < e for _, _, (s, e) in numbers.values()):
            continue
        free = [m for m in streets if id(m) not in numbers]
        if not tokens:  # every word was inside a link or a hashtag ("#br5"): no street to pair with
            break
        sentence = next((t.sentence for t in tokens if t.end > hit.start()), tokens[-1].sentence)
        pool = [m for m in free if tokens[m.i].sentence == sentence]
        pool = pool or (free if len({m.group.keys for m in streets}) == 1 else [])
        if pool:
            m = min(
                pool,
                key=lambda x: min(abs(tokens[x.i].start - hit.end()), abs(hit.start() - tokens[x.j - 1].end)),
            )
            span = (min(tokens[m.i].start, hit.start()), max(tokens[m.j - 1].end, hit.end()))
            numbers[id(m)] = (m, hit.group(1) + (hit.group(2) or ""), span)
    out = []
    for m, number, span in numbers.values():
        street_keys = gaz.remember(("street keys", m.group.index), _street_keys, m.group, gaz)
        wanted = housenumber_keys(number)
        for exact, hn in ((True, wanted[0]), (False, wanted[-1])):
            eids = sorted({e for k in street_keys for e in gaz.addresses.get(k, {}).get(hn, ())})
            if not eids:
                continue
            entry = gaz.entries[eids[0]]
            ev = {
                "entry": entry.name,
                "kind": "address",
                "housenumber": number,
                "variant": text[tokens[m.i].start : tokens[m.j - 1].end],
                "doubts": list(m.doubts)
                + (["one wrong letter"] if m.typo else [])
                + ([] if exact else [f"no house number {number}; {entry.properties['housenumber']} used"]),
            }
            out.append(
                Draft(
                    "address",
                    *entry.point,
                    20.0 if exact else 40.0,
                    span,
                    f"address:{entry.name}",
                    eids[:1],
                    ev,
                    0.95,
                )
            )
            used.add(id(m))
            break
        else:
            m.doubts.append(f"house number {number} is not in the data")
    return out


def _street_keys(group: NameGroup, gaz: Gazetteer) -> set[tuple[str, ...]]:
    """The keys of every name of the entries a name stands for (their addresses may be under any)."""
    return {group.keys} | {keys(v) for e, _, _ in group.members for v in gaz.entries[e].variants}


def intersection_drafts(
    places: list[Mention], tokens: list[Token], text: str, gaz: Gazetteer, used: set[int]
) -> list[Draft]:
    """Two streets of one sentence that meet; a corner word between them makes it sure."""
    out: list[Draft] = []
    streets = [m for m in places if "street" in m.kinds]
    for n, a in enumerate(streets) if len(streets) > 1 else ():
        for b in streets[n + 1 :]:
            if b.i - a.j > MAX_CORNER_GAP:
                continue  # more words between them than corner_cue allows: it would say None
            if tokens[a.i].sentence != tokens[b.i].sentence or a.group is b.group:
                continue
            pairs = [
                (x, y, eid)
                for x in a.kinds["street"]
                for y in b.kinds["street"]
                if (eid := gaz.intersections.get(frozenset((x, y)))) is not None
            ]
            cue = corner_cue(tokens, text, a, b)
            if not pairs or cue is None or (not cue and "weak" in (a.role, b.role)):
                continue
            for x, y, eid in pairs:
                entry = gaz.entries[eid]
                lat, lon, meets = gaz.corner(eid)
                ev_a, ev_b = evidence_of(a, gaz, x), evidence_of(b, gaz, y)
                doubts = ev_a.pop("doubts") + ev_b.pop("doubts")
                doubts += [f"the streets meet at {meets} places"] if meets > 1 else []
                doubts += ["several streets carry these names"] if len(pairs) > 1 else []
                doubts += [] if cue else ["no corner word between the names"]
                ev = {
                    "entry": entry.name,
                    "kind": "intersection",
                    "cue": cue,
                    "streets": [ev_a, ev_b],
                    "doubts": doubts,
                }
                out.append(
                    Draft(
                        "intersection",
                        lat,
                        lon,
                        30.0 if meets == 1 else 60.0,
                        span_of(tokens, a, b),
                        f"intersection:{entry.name}",
                        [eid],
                        ev,
                    )
                )
            used.update((id(a), id(b)))
    return out


def corner_cue(tokens: list[Token], text: str, a: Mention, b: Mention) -> str | None:
    """The corner word joining two street names; "" when they only share a sentence; None when
    they are not joined (far apart, or a list: "u X i u Y")."""
    gap = [t.fold for t in tokens[a.j : b.i]]
    if not gap:
        gap_raw = text[tokens[a.j - 1].end : tokens[b.i].start].strip()
        if gap_raw in JOIN_MARKS:
            return gap_raw
    listed = "i" in gap and gap[gap.index("i") + 1 : gap.index("i") + 2] in (["u"], ["na"])
    if len(gap) > MAX_CORNER_GAP or listed:
        return None
    around = [t.fold for t in tokens[max(0, a.i - 3) : a.i]] + gap + [t.fold for t in tokens[b.j : b.j + 2]]
    if not CORNER_WORDS.isdisjoint(around):
        return next(w for w in around if w in CORNER_WORDS)
    if gap == ["i"] and tokens[a.j - 1].fold.endswith("oj") and tokens[b.j - 1].fold.endswith("oj"):
        return ""  # "u Gočkoj i Tuzlanskoj": two streets, or their corner
    if gap and all(w in JOIN_WORDS for w in gap) and set(gap) - {"na", "od", "za", "ulice", "ulica", "ul"}:
        return " ".join(gap)
    return ""


def street_drafts(places: list[Mention], tokens: list[Token], gaz: Gazetteer, used: set[int]) -> list[Draft]:
    """A street named alone: a point in the middle of it, never accepted without review."""
    out: list[Draft] = []
    for m in places:
        if id(m) in used or m.role != "place" or "street" not in m.kinds:
            continue
        for eid in m.kinds["street"]:
            entry = gaz.entries[eid]
            ev = evidence_of(m, gaz, eid)
            ev["doubts"] += (
                ["several streets carry this name"] if entry.properties.get("same_name", 1) > 1 else []
            )
            out.append(
                Draft(
                    "street",
                    *entry.point,
                    max(25.0, float(entry.properties.get("length_m", 0.0)) / 2),
                    span_of(tokens, m),
                    f"street:{entry.name}",
                    [eid],
                    ev,
                    0.5,
                )
            )
    return out
