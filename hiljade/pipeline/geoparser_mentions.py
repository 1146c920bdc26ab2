"""Finding the names in a post (``find_mentions``) and what each one does there (``assign_roles``).

Names are matched on folded, stemmed keys, longest match first (spotted in one scan of the
gazetteer's automaton; ``exact_names_by_lookup`` is the word-by-word way, kept as its reference); one
wrong letter is forgiven in long names where nothing matched as written. A name is a place, or a
weak place that needs support, or a direction ("okrenuta ka X"), noise ("živim u X"), blocked, a
named area, or a town outside.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from hiljade.pipeline.fuzzy import damerau1
from hiljade.pipeline.gazetteer import Gazetteer, NameGroup
from hiljade.pipeline.geoparser_lexicon import (
    COMMON_WORDS,
    DIRECTION_WORDS,
    LOOK_WORDS,
    MONTHS,
    NOISE_WORDS,
    OUTSIDE_FIRST,
    OUTSIDE_NAMES,
    PLACE_WORDS,
    STREET_WORDS,
    TYPE_WORDS,
)
from hiljade.pipeline.morphology import agrees, feminine_adjective
from hiljade.pipeline.normalize import Token

_CYRILLIC: Final = re.compile("[\u0400-\u04ff]")
_VAGUE_KINDS: Final = frozenset(("area", "known"))  # a name of only these is no position
_STREET_KINDS: Final = frozenset(("street", "square"))


def _longest_first(f: tuple[int, int, int, NameGroup | None, str]) -> tuple[int, int, int]:
    return -f[0], f[1], f[2]  # (words, typos, first token, ...): longest, then exact, then earliest


@dataclass(slots=True)
class Mention:
    """A run of tokens naming something in the gazetteer (or a town outside the area)."""

    i: int
    j: int
    group: Any  # the NameGroup; None for a town outside the area (``outside``)
    outside: str = ""
    typo: bool = False
    role: str = "place"  # place, weak (needs a corner or a number), direction, noise, blocked, area, outside
    doubts: list[str] = field(default_factory=list)
    kinds: dict[str, list[int]] = field(default_factory=dict)  # entries by kind: the name's own, unchanged
    written: tuple[str, ...] = ()  # the folded words as the post wrote them
    cyrillic: bool = False


def _match(tokens: Sequence[Token], i: int, group: NameGroup, typo_ok: bool) -> int | None:
    """Number of wrong letters (0 or 1) when ``group`` matches at token i, else None."""
    if i + len(group.keys) > len(tokens):
        return None
    typos = 0
    for k, alts in enumerate(group.alts):
        tok = tokens[i + k]
        if group.feminine[k] and not agrees(group.folds[k], tok.fold):
            return None  # "Avalskog tornja" is not Avalska
        if tok.key in alts:
            continue
        name_key = group.keys[k]
        if (
            not typo_ok
            or typos
            or len(name_key) < 7
            or name_key.startswith("#")
            or not damerau1(tok.key, name_key)
        ):
            return None
        typos = 1
    return typos


def exact_names(
    tokens: Sequence[Token], gaz: Gazetteer, keys: Iterable[str] | None = None
) -> list[tuple[int, NameGroup]]:
    """(first token, name) of every gazetteer name written in ``tokens`` as indexed (its first word
    exactly, later words in any of their forms, adjectives agreeing), in text order; one scan of the
    gazetteer's automaton (``exact_names_by_lookup`` is the same, word by word). ``keys``: the
    tokens' keys, when already at hand."""
    groups = gaz.groups
    out = []
    for i, g in gaz.spotter.spot([t.key for t in tokens] if keys is None else keys):
        group = groups[g]
        for k in group.agreeing:
            if not agrees(group.folds[k], tokens[i + k].fold):
                break
        else:
            out.append((i, group))
    return out


def exact_names_by_lookup(tokens: Sequence[Token], gaz: Gazetteer) -> list[tuple[int, NameGroup]]:
    """What ``exact_names`` finds, looked up the straightforward way: each token's names by their first
    key, then every word compared (the reference the automaton is pinned to)."""
    return [
        (i, group)
        for i, tok in enumerate(tokens)
        for group in gaz.by_first.get(tok.key, ())
        if _match(tokens, i, group, False) is not None
    ]


def find_mentions(tokens: list[Token], gaz: Gazetteer) -> list[Mention]:
    keys = [t.key for t in tokens]
    # (words, typos, first token, name, town outside): longest first, then exact, then earliest
    found: list[tuple[int, int, int, NameGroup | None, str]] = [
        (len(group.keys), 0, i, group, "") for i, group in exact_names(tokens, gaz, keys)
    ]
    if not OUTSIDE_FIRST.isdisjoint(keys):
        all_caps = None  # every word but the numbers in capitals, worked out when first asked
        for i in [i for i, key in enumerate(keys) if key in OUTSIDE_FIRST]:
            tok = tokens[i]
            acronym = tok.text.isupper() and len(tok.text) > 1  # "NIS pumpa" is not Niš
            if acronym:
                if all_caps is None:
                    all_caps = all(t.text.isupper() for t in tokens if not t.fold.isdigit())
                acronym = not all_caps
            if (len(tok.key) > 4 or tok.upper) and not acronym:
                for n in (1, 2, 3):
                    name = OUTSIDE_NAMES.get(tuple(keys[i : i + n]))
                    if name and i + n <= len(tokens):
                        found.append((n, 0, i, None, name))
    # one wrong letter, only where nothing matched as written: words no name has, one edit from one
    nears = gaz.near_keys(keys)
    if any(nears):
        covered: set[int] = set()
        for n, _, i, _, _ in found:
            covered.update(range(i, i + n))
        for i, key in enumerate(keys):
            if len(key) < 6 or i in covered or key in gaz.name_keys:
                continue
            for near in nears[i]:
                for start in range(max(0, i - 3), i + 1):
                    for group in gaz.by_first.get(keys[start] if start < i else near, ()):
                        if near in group.keys and _match(tokens, start, group, True) == 1:
                            found.append((len(group.keys), 1, start, group, ""))
    several = len(found) > 1
    if several:
        found.sort(key=_longest_first)
    taken: set[int] = set()
    chosen = []
    for n, typo, i, grp, name in found:
        if not several or not taken.intersection(range(i, i + n)):
            if several:
                taken.update(range(i, i + n))
            folded: tuple[str, ...]
            if n == 1:
                tok = tokens[i]
                written, folded = tok.text, (tok.fold,)
            else:
                words = tokens[i : i + n]
                written, folded = "".join([t.text for t in words]), tuple([t.fold for t in words])
            kinds = grp.kinds if grp is not None else {}
            cyrillic = _CYRILLIC.search(written) is not None
            chosen.append(Mention(i, i + n, grp, name, bool(typo), "place", [], kinds, folded, cyrillic))
    if len(chosen) > 1:
        chosen.sort(key=lambda m: m.i)
    return chosen


def assign_roles(mentions: list[Mention], tokens: list[Token], text: str, gaz: Gazetteer) -> None:
    """What each name is doing in the post: a place, or a direction, noise, a vague area ..."""
    lowercase_post = not any([t.upper for t in tokens])
    n_tokens = len(tokens)
    for m in mentions:
        before = [t.fold for t in tokens[max(0, m.i - 3) : m.i]]
        first, kinds = tokens[m.i], m.kinds
        k: tuple[str, ...] = m.group.keys if m.group else ()
        looks_named = first.upper or lowercase_post
        one_word = len(k) == 1
        street_word = bool(before) and before[-1] in STREET_WORDS
        if not NOISE_WORDS.isdisjoint(before):
            m.role = "noise"  # "živim u Gočkoj"
        elif m.outside:
            m.role = "outside"
        elif before and (
            before[-1] in DIRECTION_WORDS
            or (len(before) >= 2 and before[-1] in ("na", "u") and before[-2].startswith(LOOK_WORDS))
        ):
            m.role = "direction"  # "okrenuta ka Dečanskoj", "gleda na Terazije"
        elif m.i > 0 and tokens[m.i - 1].key in TYPE_WORDS and k[0] not in TYPE_WORDS:
            m.role = "blocked"  # "bulevaru Oslobođenja" is not the street Oslobođenja
        elif kinds.keys() <= _VAGUE_KINDS and not gaz.addresses.get(k):
            m.role = "area"  # municipalities, neighbourhoods, streets we have no geometry for
        elif k[0].startswith("#") and len(k) == 2 and k[1] in MONTHS:
            if not (before and before[-1] in PLACE_WORDS):
                m.role = "weak"  # "19. aprila" is a date as often as a street
        elif one_word and k[0] in COMMON_WORDS:
            if first.first or not first.upper or not (before and before[-1] in PLACE_WORDS):
                m.role = "weak"  # "okretnica" is a word before it is a street
        elif one_word and not (feminine_adjective(m.group.folds[0]) or looks_named or street_word):
            m.role = "weak"  # "dan oslobođenja" is not the street Oslobođenja
        nxt = tokens[m.j] if m.j < n_tokens else None
        if (
            one_word
            and nxt is not None
            and not nxt.upper
            and nxt.fold.endswith("a")
            and len(nxt.fold) > 3
            and feminine_adjective(first.fold)
            and text[tokens[m.j - 1].end : nxt.start].isspace()
            and nxt.fold not in STREET_WORDS
            and not nxt.fold.startswith("kamer")
        ):
            m.role = "weak"  # "Jagodinska policija": an adjective with its noun, not the street
        one_word_shop = one_word and "landmark" in kinds and kinds.keys().isdisjoint(_STREET_KINDS)
        if m.role == "place" and one_word_shop and (lowercase_post or not first.upper or first.first):
            m.role = "weak"  # "Sunce prži", "lilly": a one-word shop name must look like a name
