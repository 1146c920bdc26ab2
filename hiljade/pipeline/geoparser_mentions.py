"""Finding the names in a post (``find_mentions``) and what each one does there (``assign_roles``).

Names are matched on folded, stemmed keys, longest match first; one wrong letter is forgiven in
long names where nothing matched as written. A name is a place, or a weak place that needs support,
or a direction ("okrenuta ka X"), noise ("živim u X"), blocked, a named area, or a town outside.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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


@dataclass
class Mention:
    """A run of tokens naming something in the gazetteer (or a town outside the area)."""

    i: int
    j: int
    group: NameGroup | None
    outside: str = ""
    typo: bool = False
    role: str = "place"  # place, weak (needs a corner or a number), direction, noise, blocked, area, outside
    doubts: list[str] = field(default_factory=list)
    kinds: dict[str, list[int]] = field(default_factory=dict)
    written: tuple[str, ...] = ()  # the folded words as the post wrote them
    cyrillic: bool = False


def _match(tokens: list[Token], i: int, group: NameGroup, typo_ok: bool) -> int | None:
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


def find_mentions(tokens: list[Token], gaz: Gazetteer) -> list[Mention]:
    found: list[tuple[int, int, Mention]] = []  # (words, typos, mention)
    all_caps = all(t.text.isupper() for t in tokens if not t.fold.isdigit())
    for i, tok in enumerate(tokens):
        for group in gaz.by_first.get(tok.key, ()):
            if _match(tokens, i, group, False) is not None:
                found.append((len(group.keys), 0, Mention(i, i + len(group.keys), group)))
        acronym = tok.text.isupper() and len(tok.text) > 1 and not all_caps  # "NIS pumpa" is not Niš
        if tok.key in OUTSIDE_FIRST and (len(tok.key) > 4 or tok.upper) and not acronym:
            for n in (1, 2, 3):
                name = OUTSIDE_NAMES.get(tuple(t.key for t in tokens[i : i + n]))
                if name and i + n <= len(tokens):
                    found.append((n, 0, Mention(i, i + n, None, outside=name)))
    covered = {k for _, _, m in found for k in range(m.i, m.j)}
    for i, tok in enumerate(tokens):  # one wrong letter, only where nothing matched as written
        if i in covered or len(tok.key) < 6 or tok.key in gaz.name_keys:
            continue
        for near in gaz.fuzzy_keys(tok.key):
            for start in range(max(0, i - 3), i + 1):
                for group in gaz.by_first.get(tokens[start].key if start < i else near, ()):
                    if near in group.keys and _match(tokens, start, group, True) == 1:
                        found.append(
                            (len(group.keys), 1, Mention(start, start + len(group.keys), group, typo=True))
                        )
    found.sort(key=lambda f: (-f[0], f[1], f[2].i))
    taken: set[int] = set()
    chosen = []
    for _, _, m in found:
        if not taken.intersection(range(m.i, m.j)):
            taken.update(range(m.i, m.j))
            for eid in dict.fromkeys(e for e, _, _ in m.group.members) if m.group else ():
                m.kinds.setdefault(gaz.entries[eid].kind, []).append(eid)
            m.written = tuple(t.fold for t in tokens[m.i : m.j])
            m.cyrillic = any("\u0400" <= ch <= "\u04ff" for t in tokens[m.i : m.j] for ch in t.text)
            chosen.append(m)
    return sorted(chosen, key=lambda m: m.i)


def assign_roles(mentions: list[Mention], tokens: list[Token], text: str, gaz: Gazetteer) -> None:
    """What each name is doing in the post: a place, or a direction, noise, a vague area ..."""
    lowercase_post = not any(t.upper for t in tokens)
    for m in mentions:
        before = [t.fold for t in tokens[max(0, m.i - 3) : m.i]]
        first, kinds, k = tokens[m.i], m.kinds, m.group.keys if m.group else ()
        looks_named = first.upper or lowercase_post
        street_word = bool(before) and before[-1] in STREET_WORDS
        if any(w in NOISE_WORDS for w in before):
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
        elif not (kinds.keys() - {"area", "known"}) and not gaz.addresses.get(k):
            m.role = "area"  # municipalities, neighbourhoods, streets we have no geometry for
        elif k[0].startswith("#") and len(k) == 2 and k[1] in MONTHS:
            if not (before and before[-1] in PLACE_WORDS):
                m.role = "weak"  # "19. aprila" is a date as often as a street
        elif len(k) == 1 and k[0] in COMMON_WORDS:
            if first.first or not first.upper or not (before and before[-1] in PLACE_WORDS):
                m.role = "weak"  # "okretnica" is a word before it is a street
        elif len(k) == 1 and not (feminine_adjective(m.group.folds[0]) or looks_named or street_word):
            m.role = "weak"  # "dan oslobođenja" is not the street Oslobođenja
        nxt = tokens[m.j] if m.j < len(tokens) else None
        if (
            len(k) == 1
            and feminine_adjective(first.fold)
            and nxt is not None
            and nxt.fold.endswith("a")
            and len(nxt.fold) > 3
            and not nxt.upper
            and text[tokens[m.j - 1].end : nxt.start].isspace()
            and nxt.fold not in STREET_WORDS
            and not nxt.fold.startswith("kamer")
        ):
            m.role = "weak"  # "Jagodinska policija": an adjective with its noun, not the street
        one_word_shop = len(k) == 1 and "landmark" in kinds and not kinds.keys() & {"street", "square"}
        if m.role == "place" and one_word_shop and (lowercase_post or not first.upper or first.first):
            m.role = "weak"  # "Sunce prži", "lilly": a one-word shop name must look like a name
