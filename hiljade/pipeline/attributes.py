"""Camera attributes from a report's text and alt texts, as OpenStreetMap values.

``camera_attributes`` reads Serbian (Cyrillic or Latin, with or without diacritics, declined) and
English: how many cameras (``count``), ``camera:type`` (dome, fixed, panning), ``camera:mount``
(pole, traffic_signals, wall, ceiling), the Huawei ``model`` code and the ``manufacturer``.
Hashtags, links and mentions are never read (``#hiljadekamera`` is no camera). When the text is
ambiguous the answer is None: a wrong count on the map is worse than none.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from hiljade.pipeline.normalize import Token, tokenize

KEYS = ("count", "type", "mount", "model", "manufacturer")
MAX_COUNT = 50  # a bigger number next to "kamera" is rhetoric ("1000 kamera") or an address


def _forms(stem: str, endings: str) -> set[str]:
    """Folded word forms: ``stem`` plus each space-separated ending (``-`` for none)."""
    return {stem + ("" if e == "-" else e) for e in endings.split()}


_NOUN = "a e i u om ama"  # feminine nouns: kamera, kamere, kameri, kameru, kamerom, kamerama
_MASC = "- a u om ovi ova ovima e"  # masculine nouns: stub, stuba, stubu, stubom, stubovi ...
_ADJ = "a e i u o om oj og ih im ima oga omu"  # adjectives: fiksna, fiksne, fiksnom ...

CAMERA_SINGULAR = _forms("kamer", "a u i om") | _forms("kameric", "a u i om") | {"camera", "cam"}
CAMERA_PLURAL = {"kamere", "kamerama", "kamerice", "kamericama", "cameras", "cams"}
CAMERA_WORDS = CAMERA_SINGULAR | CAMERA_PLURAL

NUMBER_WORDS = {
    **dict.fromkeys(("jedna", "jedan", "jednu", "jedne", "jednom", "one", "single"), 1),
    **dict.fromkeys(("dve", "dvije", "dvi", "dva", "dvema", "obe", "obje", "oba", "two", "both"), 2),
    **dict.fromkeys(("tri", "trima", "three"), 3),
    **dict.fromkeys(("cetiri", "four"), 4),
    **dict.fromkeys(("pet", "five"), 5),
    **dict.fromkeys(("sest", "six"), 6),
    **dict.fromkeys(("sedam", "seven"), 7),
    **dict.fromkeys(("osam", "eight"), 8),
    **dict.fromkeys(("devet", "nine"), 9),
    **dict.fromkeys(("deset", "ten"), 10),
}
# a quantity that is no number: the post says "some cameras", so no count
VAGUE_WORDS = {"par", "nekoliko", "vise", "mnogo", "puno", "gomila", "jos", "several", "multiple", "many",
               "few", "couple", "pair", "some", "lots", "more"}
# words that end a quantity phrase ("jedna od kamera", "two of the cameras")
_STOP = {"od", "na", "u", "i", "a", "ili", "sa", "s", "za", "kod", "iz", "po", "of", "on", "at", "in",
         "and", "or", "from", "with", "to"}
# words before a number that make it an address ("br. 3", "broj 3"); a capitalised name does too,
# unless it is one of these common words that start a sentence ("Ima 3 kamere", "Evo 2 kamere")
_ADDRESS = {"br", "broj", "ulica", "ul", "bb", "no", "nr"}
_LEADS = {"ima", "imaju", "imamo", "evo", "jos", "tu", "ovde", "ovdje", "ovdi", "samo", "cak", "oko", "preko",
          "skoro", "najmanje", "bar", "barem", "ukupno", "postavljeno", "postavljene", "postavljena", "vidim",
          "nasao", "nasla", "nasli", "izbrojao", "izbrojala", "izbrojali", "i", "a", "sada", "sad", "danas",
          "here", "there", "only", "about", "over", "least", "total", "found", "spotted", "counted", "now",
          "today", "another", "we"}

_TYPE_WORDS: dict[str, tuple[str, bool]] = {  # folded form -> (camera:type, needs a camera word nearby)
    **dict.fromkeys(_forms("kupol", _NOUN), ("dome", True)),
    **dict.fromkeys(_forms("kupolast", _ADJ), ("dome", False)),
    **dict.fromkeys(("dome", "domes"), ("dome", True)),
    **dict.fromkeys(("bullet", "bulet"), ("fixed", False)),
    **dict.fromkeys(_forms("fiksn", _ADJ) | _forms("staticn", _ADJ) | {"fixed", "static"}, ("fixed", True)),
    **dict.fromkeys(("ptz", "panning"), ("panning", False)),
    **dict.fromkeys(_forms("rotirajuc", _ADJ) | _forms("okretn", _ADJ) | _forms("pokretn", _ADJ)
                    | {"rotating", "rotates", "pan"}, ("panning", True)),
}
# a quantity may count cameras by their type alone: "3 kamere: dve bullet i jedna PTZ"
_TYPE_NOUNS = {word for word, (_value, ambiguous) in _TYPE_WORDS.items() if not ambiguous}
# an ambiguous type word after these is a place, not a camera ("ispod kupole crkve")
_PLACE_BEFORE = {"na", "u", "o", "ispod", "pod", "iznad", "nad", "kod", "pored", "ispred", "iza", "izmedu",
                 "under", "below", "above", "beneath", "inside", "in", "on", "near", "of"}
_ARTICLES = {"the", "a", "an"}
_MOUNT_WORDS: dict[str, str] = {
    **dict.fromkeys(_forms("bander", _NOUN) | _forms("stub", _MASC) | {"pole", "poles", "mast", "lamppost",
                                                                      "streetlight"}, "pole"),
    **dict.fromkeys(_forms("semafor", _MASC) | {"semafore"}, "traffic_signals"),
    **dict.fromkeys(_forms("zgrad", _NOUN) | _forms("fasad", _NOUN) | _forms("zid", _MASC)
                    | {"wall", "walls", "facade", "facades", "building"}, "wall"),
    **dict.fromkeys(_forms("plafon", "- a u om") | _forms("tavanic", _NOUN) | {"ceiling"}, "ceiling"),
}
_MOUNT_BIGRAMS = {("traffic", "light"): "traffic_signals", ("traffic", "lights"): "traffic_signals",
                  ("traffic", "signal"): "traffic_signals", ("traffic", "signals"): "traffic_signals",
                  ("street", "light"): "pole", ("street", "lamp"): "pole", ("lamp", "post"): "pole"}
# a mount word after these is where the camera hangs ("na banderi"); after _NEAR it is only nearby
_ON = {"na", "sa", "s", "o", "ispod", "pod", "on", "onto", "under", "mounted", "postavljena", "postavljene",
       "montirana", "montirane", "okacena", "okacene", "zakacena", "zakacene"}
_NEAR = {"kod", "pored", "ispred", "iza", "puta", "blizu", "prema", "naspram", "izmedu", "do", "uz",
         "near", "next", "by", "opposite", "behind", "front", "across", "from", "beside"}
_MANUFACTURERS = (("huawei", "Huawei"), ("huavej", "Huawei"), ("hikvision", "Hikvision"),
                  ("dahua", "Dahua"))
# Huawei IPC model codes: IPC6625-Z30, IPC6225-VRZ-ES, IPC2121-I (Dahua's "IPC-HFW..." do not match)
MODEL = re.compile(r"(?<![A-Za-z0-9])IPC[-\s]?(\d{4}[A-Z]?)((?:-[A-Z0-9]{1,8}){0,4})(?![A-Za-z0-9])", re.I)
WINDOW = 3  # a word that needs a camera word nearby: at most this many words away, same sentence


def camera_attributes(text: str) -> dict[str, Any]:
    """``count``, ``type``, ``mount``, ``model`` and ``manufacturer`` named in ``text`` (None if not)."""
    tokens = tokenize(text or "")
    models = list(dict.fromkeys(
        "IPC" + m.group(1).upper() + m.group(2).upper() for m in MODEL.finditer(text or "")))
    named = (name for t in tokens for prefix, name in _MANUFACTURERS if t.fold.startswith(prefix))
    manufacturer = next(named, None)
    return {
        "count": _count(text or "", tokens),
        "type": _type(tokens),
        "mount": _mount(text or "", tokens),
        "model": ";".join(models) or None,
        "manufacturer": manufacturer or ("Huawei" if models else None),
    }


def _joined(text: str, a: Token, b: Token) -> bool:
    """True when only spaces separate two tokens of the same sentence."""
    return a.sentence == b.sentence and not text[a.end : b.start].strip()


def _count(text: str, tokens: Sequence[Token]) -> int | None:
    """The number of cameras a text states; None when it states none, vaguely or inconsistently."""
    counts: list[int] = []
    for i, tok in enumerate(tokens):
        if tok.fold in VAGUE_WORDS or tok.fold in NUMBER_WORDS or (tok.fold.isdigit() and not tok.dot):
            noun = _quantified_noun(text, tokens, i)
            if noun is None:
                continue
            if tok.fold in VAGUE_WORDS:
                return None
            value = NUMBER_WORDS.get(tok.fold) or _digit_count(text, tokens, i, noun)
            if value:
                counts.append(value)
    if not counts:
        return None
    top = max(counts)
    if all(c == top for c in counts):
        return top
    rest = list(counts)
    rest.remove(top)
    return top if sum(rest) == top else None  # "3 kamere: dve bullet i jedna PTZ kamera"


def _quantified_noun(text: str, tokens: Sequence[Token], i: int) -> str | None:
    """The camera noun a quantity word at ``i`` counts (up to two adjectives between), else None."""
    for j in range(i + 1, min(i + 4, len(tokens))):
        if not _joined(text, tokens[j - 1], tokens[j]):
            return None
        word = tokens[j].fold
        if word in CAMERA_WORDS or word in _TYPE_NOUNS:
            return word
        if word in _STOP or word.isdigit() or word in NUMBER_WORDS or word in VAGUE_WORDS:
            return None
    return None


def _digit_count(text: str, tokens: Sequence[Token], i: int, noun: str) -> int | None:
    """A digit before a camera noun, unless it reads as a house number or the noun does not agree."""
    n = int(tokens[i].fold)
    if not 1 <= n <= MAX_COUNT:
        return None
    if i > 0 and _address_before(text, tokens[i - 1], tokens[i]):
        return None  # "Dečanska 3 kamere", "br. 3 kamera": an address, perhaps
    if noun.startswith("cam") or noun in _TYPE_NOUNS:
        return n
    if n % 10 == 1 and n % 100 != 11:
        ok = noun in CAMERA_SINGULAR
    elif n % 10 in (2, 3, 4) and n % 100 not in (12, 13, 14):
        ok = noun in ("kamere", "kamerama", "kamerice", "kamericama")
    else:
        ok = noun in ("kamera", "kamerama", "kamerica", "kamericama")
    return n if ok else None


def _address_before(text: str, prev: Token, number: Token) -> bool:
    """True when ``prev`` makes ``number`` read as a house number: a name, "br.", another number."""
    if prev.sentence != number.sentence or text[prev.end : number.start].strip() not in ("", "."):
        return False
    return prev.fold in _ADDRESS or prev.fold.isdigit() or (prev.upper and prev.fold not in _LEADS)


def _near_camera(tokens: Sequence[Token], i: int) -> bool:
    sentence = tokens[i].sentence
    lo, hi = max(0, i - WINDOW), min(len(tokens), i + WINDOW + 1)
    return any(tokens[j].fold in CAMERA_WORDS and tokens[j].sentence == sentence for j in range(lo, hi))


def _type(tokens: Sequence[Token]) -> str | None:
    """camera:type named in the text; ambiguous words (kupola, fiksna, dome) only next to a camera word."""
    votes: Counter[str] = Counter()
    for i, tok in enumerate(tokens):
        if tok.fold == "speed" and i + 1 < len(tokens) and tokens[i + 1].fold == "dome":
            votes["panning"] += 1  # a speed dome is a PTZ camera
            continue
        if tok.fold == "dome" and i > 0 and tokens[i - 1].fold == "speed":
            continue
        found = _TYPE_WORDS.get(tok.fold)
        if found and (not found[1] or (_near_camera(tokens, i) and not _after_place_word(tokens, i))):
            votes[found[0]] += 1
    return _winner(votes)


def _after_place_word(tokens: Sequence[Token], i: int) -> bool:
    """True when a preposition of place comes just before token ``i`` (an article may come between)."""
    j = i - 1
    if j >= 0 and tokens[j].fold in _ARTICLES:
        j -= 1
    return j >= 0 and tokens[j].fold in _PLACE_BEFORE


def _mount(text: str, tokens: Sequence[Token]) -> str | None:
    """camera:mount: a mount word after "na"/"on" weighs 2, a bare one 1, one after "kod"/"near" 0."""
    votes: Counter[str] = Counter()
    for i, tok in enumerate(tokens):
        value = _MOUNT_WORDS.get(tok.fold)
        if value is None and i + 1 < len(tokens):
            value = _MOUNT_BIGRAMS.get((tok.fold, tokens[i + 1].fold))
        if value is None:
            continue
        if value == "wall" and tok.upper and i + 1 < len(tokens) and tokens[i + 1].upper \
                and _joined(text, tok, tokens[i + 1]):
            continue  # "Zgrada Vlade": a landmark's name, not where the camera hangs
        votes[value] += _mount_weight(text, tokens, i)
    return _winner(+votes)


def _mount_weight(text: str, tokens: Sequence[Token], i: int) -> int:
    """2 after a preposition of mounting (one adjective may come between), 0 after one of nearness."""
    for j in (i - 1, i - 2):
        if j < 0 or not _joined(text, tokens[j], tokens[j + 1]):
            return 1
        word = tokens[j].fold
        if word in _ON:
            return 2
        if word in _NEAR:
            return 0
    return 1


def _winner(votes: Counter[str]) -> str | None:
    """The most voted value; None on a tie or without votes."""
    ranked = votes.most_common(2)
    if not ranked or (len(ranked) == 2 and ranked[0][1] == ranked[1][1]):
        return None
    return ranked[0][0]


def merge_attributes(items: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The site's attributes from its reports': the most frequent non-null value of each key.

    Ties: type, mount, model and manufacturer become None; count takes the larger (a later
    reporter may have seen a camera added since).
    """
    items = list(items)
    merged: dict[str, Any] = {}
    for key in KEYS:
        votes = Counter(d.get(key) for d in items if d.get(key) is not None)
        ranked = votes.most_common()
        if not ranked:
            merged[key] = None
            continue
        tied = [value for value, n in ranked if n == ranked[0][1]]
        merged[key] = tied[0] if len(tied) == 1 else (max(tied) if key == "count" else None)
    return merged
