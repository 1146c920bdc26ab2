"""The fast paths of ``locate`` pinned to the straightforward ones they replace.

The gazetteer's automaton finds the names a word-by-word lookup finds; the mentions and the tokens
are those of the reference implementations below (the code as it was before the automaton); the
positions written in a text are those found with every reader run; a pickled gazetteer locates
like the one it was made from; the area test on x/y agrees with shapely's ``covers``. Checked on
the dev texts and the Belgrade data in ../shared, and on texts generated from the gazetteer's
names: declined, misspelt, transliterated, with numbers, links, hashtags and towns outside.
"""

from __future__ import annotations

import json
import pickle
import random
import re
from typing import Any

import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point
from shapely.prepared import prep

from hiljade.harvester.osm_files import read_area, read_local_names, read_osm_files
from hiljade.pipeline.fuzzy import damerau1
from hiljade.pipeline.gazetteer import Gazetteer
from hiljade.pipeline.gazetteer_build import build_gazetteer
from hiljade.pipeline.geoparser_lexicon import OUTSIDE_FIRST, OUTSIDE_NAMES
from hiljade.pipeline.geoparser_mentions import (
    Mention,
    exact_names,
    exact_names_by_lookup,
    find_mentions,
)
from hiljade.pipeline.local_names import add_local_names
from hiljade.pipeline.locate import locate
from hiljade.pipeline.morphology import agrees, stem
from hiljade.pipeline.normalize import ABBREVIATIONS, Token, tokenize
from hiljade.pipeline.numerals import ROMAN, TENS, roman_value
from hiljade.pipeline.scripts import fold, to_cyrillic
from hiljade.pipeline.textgeo import find_coordinates
from tests.support.gazetteer import town_gazetteer
from tests.support.located import said
from tests.support.paths import SHARED_DATA, SHARED_EVAL, SKIP_NO_SHARED

DATA_SUFFIXES = (".geojson", ".osm", ".osm.pbf", ".pbf", ".csv", ".txt")  # as bench/geoparse_eval.py


@pytest.fixture(scope="module")
def belgrade() -> Gazetteer:
    """The Belgrade gazetteer as bench/geoparse_eval.py builds it: every data file, the boundary, the
    local names hiljade ships."""
    folder = SHARED_DATA / "belgrade_geo"
    if not folder.is_dir():
        pytest.skip(SKIP_NO_SHARED)
    paths = sorted(p for p in folder.iterdir() if p.name.endswith(DATA_SUFFIXES))
    boundary = next(p for p in paths if "boundary" in p.name)
    files = [p for p in paths if p != boundary]
    gaz, _ = add_local_names(
        build_gazetteer(read_osm_files(files), area=read_area(boundary)), read_local_names(["belgrade"])
    )
    return Gazetteer.from_rows(json.loads(json.dumps(gaz.to_rows())))


@pytest.fixture(scope="module")
def dev_texts() -> list[str]:
    path = SHARED_EVAL / "geoparse-dev.jsonl"
    if not path.is_file():
        pytest.skip("../shared/eval is absent (fresh clone): no dev texts here")
    return [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines() if line]


# --- the reference implementations: the straightforward code the fast paths replace -----------------

_WORD_RE = re.compile(r"\d+|[^\W\d_]+")
_SKIP_RE = re.compile(r"(?:https?://|www\.)\S+|[@#][\w.]+|\b\w+@\w[\w.]*")
_SENTENCE_END = re.compile(r"[!?;\n]|\.(?=\s+[^\W\d_])")


def reference_tokenize(text: str, skip_links: bool = True) -> list[Token]:
    """Tokens as ``normalize.tokenize`` made them word by word, each break looked at in turn."""
    skipped = [m.span() for m in _SKIP_RE.finditer(text)] if skip_links else []
    breaks = [m.start() for m in _SENTENCE_END.finditer(text)]
    raw: list[Token] = []
    sentence, b = 0, 0
    for m in _WORD_RE.finditer(text):
        start, end = m.span()
        if any(s <= start < e for s, e in skipped):
            continue
        while b < len(breaks) and breaks[b] < start:
            prev = raw[-1] if raw else None
            if not (
                text[breaks[b]] == "."
                and prev is not None
                and (prev.fold.isdigit() or prev.fold in ABBREVIATIONS or len(prev.fold) == 1)
            ):
                sentence += 1
            b += 1
        word = m.group(0)
        folded = fold(word)
        key = stem(folded)
        dot = end < len(text) and text[end] == "."
        if word.isupper() and (len(word) > 1 or dot) and ROMAN.fullmatch(word):
            key = f"#{roman_value(word)}"
        first = not raw or raw[-1].sentence != sentence
        raw.append(Token(word, start, end, folded, key, sentence, dot, word[:1].isupper(), first))
    out: list[Token] = []
    i = 0
    while i < len(raw):
        tok, nxt = raw[i], raw[i + 1] if i + 1 < len(raw) else None
        if tok.fold in TENS and nxt is not None and nxt.key.startswith("#"):
            unit = int(nxt.key[1:])
            if unit < 10 and not nxt.fold.isdigit():
                key = f"#{TENS[tok.fold] + unit}"
                text2, fold2 = tok.text + " " + nxt.text, tok.fold + " " + nxt.fold
                merged = (tok.start, nxt.end, fold2, key, tok.sentence, nxt.dot, tok.upper, tok.first)
                out.append(Token(text2, *merged))
                i += 2
                continue
        out.append(tok)
        i += 1
    return out


def _reference_match(tokens: list[Token], i: int, group: Any, typo_ok: bool) -> int | None:
    if i + len(group.keys) > len(tokens):
        return None
    typos = 0
    for k, alts in enumerate(group.alts):
        tok = tokens[i + k]
        if group.feminine[k] and not agrees(group.folds[k], tok.fold):
            return None
        if tok.key in alts:
            continue
        name_key = group.keys[k]
        if not typo_ok or typos or len(name_key) < 7 or name_key.startswith("#"):
            return None
        if not damerau1(tok.key, name_key):
            return None
        typos = 1
    return typos


def reference_mentions(tokens: list[Token], gaz: Gazetteer) -> list[Mention]:
    """Mentions as ``find_mentions`` found them: each token's names by their first key, one by one."""
    found: list[tuple[int, int, Mention]] = []
    all_caps = all(t.text.isupper() for t in tokens if not t.fold.isdigit())
    for i, tok in enumerate(tokens):
        for group in gaz.by_first.get(tok.key, ()):
            if _reference_match(tokens, i, group, False) is not None:
                found.append((len(group.keys), 0, Mention(i, i + len(group.keys), group)))
        acronym = tok.text.isupper() and len(tok.text) > 1 and not all_caps
        if tok.key in OUTSIDE_FIRST and (len(tok.key) > 4 or tok.upper) and not acronym:
            for n in (1, 2, 3):
                name = OUTSIDE_NAMES.get(tuple(t.key for t in tokens[i : i + n]))
                if name and i + n <= len(tokens):
                    found.append((n, 0, Mention(i, i + n, None, outside=name)))
    covered = {k for _, _, m in found for k in range(m.i, m.j)}
    for i, tok in enumerate(tokens):
        if i in covered or len(tok.key) < 6 or tok.key in gaz.name_keys:
            continue
        for near in sorted(gaz.fuzzy_keys(tok.key)):  # sorted: the same whatever the hash seed
            for start in range(max(0, i - 3), i + 1):
                for group in gaz.by_first.get(tokens[start].key if start < i else near, ()):
                    if near in group.keys and _reference_match(tokens, start, group, True) == 1:
                        mention = Mention(start, start + len(group.keys), group, typo=True)
                        found.append((len(group.keys), 1, mention))
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


# --- comparing -------------------------------------------------------------------------------------


def _names(found: list[tuple[int, Any]]) -> list[tuple[int, int]]:
    return [(i, group.index) for i, group in found]


def _mentions(mentions: list[Mention]) -> list[tuple[Any, ...]]:
    return [
        (m.i, m.j, m.group.index if m.group else None, m.outside, m.typo, m.kinds, m.written, m.cyrillic)
        for m in mentions
    ]


def assert_same_spotting(text: str, gaz: Gazetteer) -> int:
    """The fast paths agree with the references on ``text``; how many names were found in it."""
    tokens = tokenize(text)
    assert tokens == reference_tokenize(text), text
    found = exact_names(tokens, gaz)
    assert _names(found) == _names(exact_names_by_lookup(tokens, gaz)), text
    assert _mentions(find_mentions(tokens, gaz)) == _mentions(reference_mentions(tokens, gaz)), text
    where = {"area": gaz.area, "reference": gaz.centre}
    assert _outcome(text, **where) == _outcome(text, **where, every_reader=True), text
    return len(found)


def _outcome(text: str, **where: Any) -> Any:
    """What ``find_coordinates`` returns (it never raises: "mlat=44.8&mlon=20.4x" is no marker)."""
    return find_coordinates(text, **where)


def test_the_dev_texts_spot_the_same_names(belgrade: Gazetteer, dev_texts: list[str]) -> None:
    found = sum(assert_same_spotting(text, belgrade) for text in dev_texts)
    assert found > len(dev_texts)  # the dev texts name places: the comparison is not of empty lists


def test_a_pickled_gazetteer_locates_the_dev_texts_alike(belgrade: Gazetteer, dev_texts: list[str]) -> None:
    again = pickle.loads(pickle.dumps(belgrade))
    assert again.spotter.codes == belgrade.spotter.codes
    before = [said(locate(text, belgrade)) for text in dev_texts]
    assert before == [said(locate(text, again)) for text in dev_texts]
    assert sum(res[2] == "located" for res in before) > len(dev_texts) / 2


def test_a_pickled_small_gazetteer_locates_alike(tmp_path_factory: pytest.TempPathFactory) -> None:
    town = town_gazetteer(str(tmp_path_factory.getbasetemp() / "town"))
    again = pickle.loads(pickle.dumps(town))
    for text in ("Kamera na uglu Dečanske i Makedonske", "Дечанска 8а", "Trg republike", "Gočka 5"):
        assert said(locate(text, again)) == said(locate(text, town))
    assert shapely.is_prepared(again.area)


def test_the_area_test_agrees_with_covers(belgrade: Gazetteer) -> None:
    """Points at random, on every corner of the boundary and halfway along each of its edges."""
    area = belgrade.area
    covers = prep(area).covers
    rnd = random.Random(13)
    minx, miny, maxx, maxy = area.bounds
    corners = shapely.get_coordinates(area.boundary).tolist()
    points = [(rnd.uniform(minx, maxx), rnd.uniform(miny, maxy)) for _ in range(3000)] + corners
    points += [((a[0] + b[0]) / 2, (a[1] + b[1]) / 2) for a, b in zip(corners, corners[1:], strict=False)]
    answers = [belgrade.contains(y, x) for x, y in points]
    assert answers == [covers(Point(x, y)) for x, y in points]
    assert answers == [belgrade.contains(y, x) for x, y in points]  # remembered answers too
    assert any(answers) and not all(answers)


# --- generated texts ------------------------------------------------------------------------------

ENDINGS = ("", "a", "e", "i", "u", "oj", "om", "og", "ama", "ima", "ska", "skoj", "skog", "ove")
FILLER = (
    "kamera", "na", "uglu", "ugao", "i", "kod", "broj", "br.", "ul.", "ka", "prema", "živim u", "ulica",
    "Trg", "bulevar", "x", "/", ",", ".", "!", "\n", "17.", "XI", "V.", "dvadeset prvog", "Novi Sad", "NIS",
    "Niš", "#hiljadekamera", "@stari_grad", "RT", "mail@example.com", "8FVC+X2", "CFGH+JM",
    "https://www.openstreetmap.org/?mlat=44.8157&mlon=20.4623", "https://t.co/abc", "www.example.com/x",
    "44.8157, 20.4623", "geo:44.81,20.46", "https://maps.google.com/?q=Terazije",
)


def _typo(word: str, at: int, letter: str) -> str:
    if len(word) < 4:
        return word
    at %= len(word)
    return (word[:at] + word[at + 1 :], word[:at] + letter + word[at + 1 :], word[:at] + letter + word[at:])[
        at % 3
    ]


@st.composite
def post(draw: st.DrawFn, names: list[str], forms: list[tuple[frozenset[str], ...]]) -> str:
    parts = []
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.integers(0, 6))
        if kind == 6:  # a name's words in their other forms: "Narodnoj banci", "Avalskog tornja"
            alts = draw(st.sampled_from(forms))
            words = [draw(st.sampled_from(sorted(a))) for a in alts]
            ends = [draw(st.sampled_from(("", "i", "a", "u"))) for _ in alts]
            spoken = [w[1:] + "." if w[0] == "#" else w + e for w, e in zip(words, ends, strict=True)]
            parts.append(" ".join(spoken))
        elif kind <= 2:
            name = draw(st.sampled_from(names))
            if kind == 1:  # declined: the last letter or two said another way
                name = name[: -draw(st.integers(0, 2)) or None] + draw(st.sampled_from(ENDINGS))
            if kind == 2:  # one letter wrong, missing or added
                name = _typo(name, draw(st.integers(0, 60)), draw(st.sampled_from("aeioukrsčšž")))
            parts.append(draw(st.sampled_from((name, name.lower(), name.upper(), to_cyrillic(name)))))
        elif kind <= 4:
            parts.append(draw(st.sampled_from(FILLER)))
        else:
            number = str(draw(st.integers(0, 300)))
            parts.append(number + draw(st.sampled_from(("", "a", "/2", "-4", ".", " kamere"))))
    return draw(st.sampled_from((" ", ", ", " / ", ". "))).join(parts)


def _all_names(gaz: Gazetteer) -> list[str]:
    return sorted({v for group in gaz.groups for _, v, _ in group.members})


def _other_forms(gaz: Gazetteer) -> list[tuple[frozenset[str], ...]]:
    """The word forms of every name of several words whose later words have more forms than one."""
    return [g.alts for g in gaz.groups if len(g.keys) > 1 and any(len(a) > 1 for a in g.alts[1:])]


@given(data=st.data())
@settings(max_examples=400, deadline=None)
def test_generated_texts_spot_the_same_names(belgrade: Gazetteer, data: st.DataObject) -> None:
    assert_same_spotting(data.draw(post(_all_names(belgrade), _other_forms(belgrade))), belgrade)


@given(text=st.text(alphabet="Ab XIV.,!?;\n#@/:+šđЖжdj0123456789wvhtps", max_size=80))
@settings(max_examples=400, deadline=None)
def test_any_text_tokenizes_as_before(text: str) -> None:
    assert tokenize(text) == reference_tokenize(text)
    assert tokenize(text, skip_links=False) == reference_tokenize(text, skip_links=False)


@given(text=st.text(alphabet="Ab X._ ,.\n\u00a0\u2003#a1²٣br5š", max_size=60))
@settings(max_examples=400, deadline=None)
def test_runs_of_several_words_tokenize_as_before(text: str) -> None:
    """Letters and digits written together ("br5"), underscores, other numerals and other spaces."""
    assert tokenize(text) == reference_tokenize(text)
    assert tokenize(text, skip_links=False) == reference_tokenize(text, skip_links=False)


def test_the_fast_paths_see_the_names_of_a_small_town(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Without ../shared: the made-up town's names, declined and misspelt."""
    town = town_gazetteer(str(tmp_path_factory.getbasetemp() / "town"))
    names = _all_names(town)
    rnd = random.Random(7)
    found = 0
    for _ in range(300):
        words = [rnd.choice(names + list(FILLER)) for _ in range(rnd.randint(1, 6))]
        words = [w + rnd.choice(ENDINGS) if rnd.random() < 0.3 else w for w in words]
        found += assert_same_spotting(" ".join(words), town)
    assert found > 100
