"""Serbian text folding: both scripts, no diacritics, ordinals, light stemming, offsets kept.

``fold`` maps any spelling of a word to one plain Latin form (``Ђорђа`` = ``Đorđa`` = ``Djordja``
= ``Dordja`` -> ``dorda``); ``stem`` strips Serbian case endings so declined forms meet
(``Makedonskoj`` -> ``makedonsk``, ``Terazijama`` -> ``terazij``); ordinals, in digits or words,
become ``#N`` (``17.`` = ``Sedamnaestog`` -> ``#17``). ``tokenize`` keeps character offsets into
the original text.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

_CYR_LAT = {
    "а": "a",
    "б": "b",
    "в": "v",
    "г": "g",
    "д": "d",
    "ђ": "đ",
    "е": "e",
    "ж": "ž",
    "з": "z",
    "и": "i",
    "ј": "j",
    "к": "k",
    "л": "l",
    "љ": "lj",
    "м": "m",
    "н": "n",
    "њ": "nj",
    "о": "o",
    "п": "p",
    "р": "r",
    "с": "s",
    "т": "t",
    "ћ": "ć",
    "у": "u",
    "ф": "f",
    "х": "h",
    "ц": "c",
    "ч": "č",
    "џ": "dž",
    "ш": "š",
}
_CYR_LAT.update({k.upper(): v[0].upper() + v[1:] for k, v in list(_CYR_LAT.items())})
_TO_LATIN = str.maketrans(_CYR_LAT)
_LAT_DIGRAPHS = {
    "lj": "љ",
    "nj": "њ",
    "dž": "џ",
    "Lj": "Љ",
    "LJ": "Љ",
    "Nj": "Њ",
    "NJ": "Њ",
    "Dž": "Џ",
    "DŽ": "Џ",
}
_LAT_CYR = {v: k for k, v in _CYR_LAT.items() if len(v) == 1}
_DIGRAPH_RE = re.compile("|".join(sorted(_LAT_DIGRAPHS, key=len, reverse=True)))
_FOLD = str.maketrans({"č": "c", "ć": "c", "š": "s", "ž": "z", "đ": "d"})

ORDINAL_STEMS = {
    "prv": 1,
    "drug": 2,
    "trec": 3,
    "cetvrt": 4,
    "pet": 5,
    "sest": 6,
    "sedm": 7,
    "osm": 8,
    "devet": 9,
    "deset": 10,
    "jedanaest": 11,
    "dvanaest": 12,
    "trinaest": 13,
    "cetrnaest": 14,
    "petnaest": 15,
    "sesnaest": 16,
    "sedamnaest": 17,
    "osamnaest": 18,
    "devetnaest": 19,
    "dvadeset": 20,
    "trideset": 30,
    "cetrdeset": 40,
    "pedeset": 50,
    "sezdeset": 60,
    "sedamdeset": 70,
    "osamdeset": 80,
    "devedeset": 90,
    "stot": 100,
    "dvestot": 200,
    "hiljadit": 1000,
}
_TENS = {
    "dvadeset": 20,
    "trideset": 30,
    "cetrdeset": 40,
    "pedeset": 50,
    "sezdeset": 60,
    "sedamdeset": 70,
    "osamdeset": 80,
    "devedeset": 90,
}
_ORDINAL_ENDINGS = (
    "oga",
    "omu",
    "ome",
    "ega",
    "emu",
    "ima",
    "og",
    "om",
    "oj",
    "eg",
    "em",
    "ih",
    "im",
    "i",
    "a",
    "o",
    "e",
    "u",
)
# case endings, longest first; the stem keeps at least _MIN_STEM letters
_ENDINGS = (
    "ama",
    "ima",
    "oga",
    "omu",
    "ome",
    "ega",
    "emu",
    "om",
    "oj",
    "og",
    "em",
    "ih",
    "im",
    "a",
    "e",
    "i",
    "o",
    "u",
)
_MIN_STEM = 3
_WORD_RE = re.compile(r"\d+|[^\W\d_]+")
_SKIP_RE = re.compile(r"(?:https?://|www\.)\S+|[@#][\w.]+|\b\w+@\w[\w.]*")
_SENTENCE_END = re.compile(r"[!?;\n]|\.(?=\s+[^\W\d_])")
_EXPANSIONS = {"sv": "sveti", "bul": "bulevar", "blvd": "bulevar", "tc": "tc"}


def _words(text: str) -> frozenset[str]:
    """A set of words written as one string."""
    return frozenset(text.split())


ABBREVIATIONS = _words("ul br bul sv dr gen kralj str tc st nar")


def to_latin(text: str) -> str:
    """Serbian Cyrillic -> Latin (gajica), other characters unchanged."""
    return text.translate(_TO_LATIN)


def to_cyrillic(text: str) -> str:
    """Serbian Latin -> Cyrillic (lj, nj, dž as one letter), other characters unchanged."""
    text = _DIGRAPH_RE.sub(lambda m: _LAT_DIGRAPHS[m.group(0)], text)
    return "".join(_LAT_CYR.get(ch, ch) for ch in text)


def fold(text: str) -> str:
    """Lowercase Latin without diacritics; đ, dj and d all become ``d``; dž becomes ``dz``."""
    text = to_latin(text).lower().translate(_FOLD)
    if not text.isascii():
        text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return text.replace("dj", "d")


def ordinal_value(word: str) -> int | None:
    """The number of a folded ordinal word (``sedamnaestog`` -> 17), else None; bare cardinals are not."""
    for ending in _ORDINAL_ENDINGS:
        if word.endswith(ending):
            value = ORDINAL_STEMS.get(word[: -len(ending)])
            if value is not None:
                return value
    return None


def stem(word: str) -> str:
    """Strip one Serbian case ending from a folded word; ``-ac`` loses its fleeting a."""
    if word.isdigit():
        return "#" + str(int(word))
    value = ordinal_value(word)
    if value is not None:
        return f"#{value}"
    word = _EXPANSIONS.get(word, word)
    for ending in _ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= _MIN_STEM:
            word = word[: -len(ending)]
            if word.endswith("o") and len(word) > _MIN_STEM:  # plato-u, radio-a: the stem's own o
                word = word[:-1]
            break
    if word.endswith("ac") and len(word) >= 5:
        word = word[:-2] + "c"
    if word.endswith("bc"):  # Šabac -> Šapca: b loses its voice before c
        word = word[:-2] + "pc"
    return word


@dataclass(frozen=True)
class Token:
    """One word or number of a text, with its offsets, folded form and match key."""

    text: str
    start: int
    end: int
    fold: str
    key: str
    sentence: int = 0
    dot: bool = False  # a "." follows directly (ordinals: "17.", abbreviations: "ul.")
    upper: bool = False  # written with a capital first letter
    first: bool = False  # the first word of its sentence

    @property
    def number(self) -> int | None:
        """The value of a digit token, else None."""
        return int(self.fold) if self.fold.isdigit() else None


@lru_cache(maxsize=200_000)
def _fold_stem(word: str) -> tuple[str, str]:
    folded = fold(word)
    return folded, stem(folded)


_ROMAN = re.compile(r"(?=[IVXLC])(X{0,3}|XL|L?X{0,3}|XC)(IX|IV|V?I{0,3})")
_ROMAN_VALUES = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100}


def roman_value(numeral: str) -> int:
    """The value of an uppercase Roman numeral (``XIV`` -> 14)."""
    values = [_ROMAN_VALUES[c] for c in numeral]
    return sum(-v if i + 1 < len(values) and v < values[i + 1] else v for i, v in enumerate(values))


def _skipped_spans(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in _SKIP_RE.finditer(text)]


def tokenize(text: str, *, skip_links: bool = True) -> list[Token]:
    """Words and numbers of ``text`` with offsets; URLs, @mentions and #hashtags are left out."""
    skipped = _skipped_spans(text) if skip_links else []
    breaks = [m.start() for m in _SENTENCE_END.finditer(text)]
    raw: list[Token] = []
    sentence, b = 0, 0
    for m in _WORD_RE.finditer(text):
        start, end = m.span()
        if skipped and any(s <= start < e for s, e in skipped):
            continue
        while b < len(breaks) and breaks[b] < start:
            # "17. oktobra", "ul. Makedonska", "br. 7" do not end a sentence
            prev = raw[-1] if raw else None
            if not (
                text[breaks[b]] == "."
                and prev is not None
                and (prev.fold.isdigit() or prev.fold in ABBREVIATIONS or len(prev.fold) == 1)
            ):
                sentence += 1
            b += 1
        word = m.group(0)
        folded, key = _fold_stem(word)
        dot = end < len(text) and text[end] == "."
        if word.isupper() and (len(word) > 1 or dot) and _ROMAN.fullmatch(word):
            key = f"#{roman_value(word)}"  # "XI krajiške" = "11. krajiške"
        first = not raw or raw[-1].sentence != sentence
        raw.append(
            Token(
                word,
                start,
                end,
                folded,
                key,
                sentence,
                dot,
                word[:1].isupper(),
                first,
            )
        )
    return _merge_compound_ordinals(raw)


def _merge_compound_ordinals(tokens: list[Token]) -> list[Token]:
    """``dvadeset prvog`` -> one token ``#21``."""
    out: list[Token] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        if tok.fold in _TENS and nxt is not None and nxt.key.startswith("#"):
            unit = int(nxt.key[1:])
            if unit < 10 and not nxt.fold.isdigit():
                out.append(
                    Token(
                        tok.text + " " + nxt.text,
                        tok.start,
                        nxt.end,
                        tok.fold + " " + nxt.fold,
                        f"#{_TENS[tok.fold] + unit}",
                        tok.sentence,
                        nxt.dot,
                        tok.upper,
                        tok.first,
                    )
                )
                i += 2
                continue
        out.append(tok)
        i += 1
    return out


@lru_cache(maxsize=100_000)
def folds(text: str) -> tuple[str, ...]:
    """The folded words of a name (``Dečanska ulica`` -> ``("decanska", "ulica")``)."""
    return tuple(t.fold for t in tokenize(text, skip_links=False))


@lru_cache(maxsize=100_000)
def keys(text: str) -> tuple[str, ...]:
    """The match keys of a name (``Knez Mihailova`` -> ``("knez", "mihailov")``)."""
    return tuple(t.key for t in tokenize(text, skip_links=False))


def sibilant_alternative(key: str) -> str | None:
    """The dative/locative form of a noun stem before -i (``bank`` -> ``banc``), if it changes."""
    last = {"k": "c", "g": "z", "h": "s"}.get(key[-1:]) if not key.startswith("#") else None
    return key[:-1] + last if last else None


def fleeting_a(key: str) -> str | None:
    """The oblique stem of a noun with a fleeting a (``kutak`` -> ``kutk``: ``kutka``, ``kutku``)."""
    return key[:-2] + "k" if len(key) >= 5 and key.endswith("ak") and key[-3] not in "aeiou" else None


_FEMININE_ADJECTIVE = ("ska", "cka", "ova", "eva", "ina")
_NOT_FEMININE = ("og", "oga", "omu", "ome", "i", "o")


def feminine_adjective(word: str) -> bool:
    """A folded word that looks like a feminine adjective (``makedonska``, ``kolarceva``)."""
    return len(word) >= 5 and word.endswith(_FEMININE_ADJECTIVE)


def agrees(name_word: str, text_word: str) -> bool:
    """False when a feminine adjective of a name is written in a masculine/neuter form
    (``Avalskog tornja`` is not ``Avalska``)."""
    return not (feminine_adjective(name_word) and text_word.endswith(_NOT_FEMININE))


def damerau1(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` differ by at most one edit (insert, delete, substitute, swap)."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    i = 0
    while i < min(la, lb) and a[i] == b[i]:
        i += 1
    if la == lb:
        if a[i + 1 :] == b[i + 1 :]:
            return True
        return i + 1 < la and a[i] == b[i + 1] and a[i + 1] == b[i] and a[i + 2 :] == b[i + 2 :]
    if la > lb:
        return a[i + 1 :] == b[i:]
    return a[i:] == b[i + 1 :]


def deletions(word: str) -> set[str]:
    """Every string made by deleting one character of ``word``."""
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


LEAD_WORDS = _words("the tc zgrad palat sc kc")  # "TC Staklenac", "Zgrada Hempro", "Palata Albanija"
TITLE_WORDS = _words("dr prof ing mr")  # "Plato dr Zorana Đinđića"
CITY_WORDS = _words("beograd belgrad belgrade")  # "Dom omladine Beograda"


def housenumber_keys(housenumber: str) -> list[str]:
    """Lookup keys of a house number: ``8a`` -> [8a, ~8]; ``6-8`` -> [6-8, 6, 8, ~6]."""
    hn = "".join(fold(housenumber).split())
    if not hn:
        return []
    out = [hn] + ([p for p in re.split(r"[-,;]", hn) if p] if re.search(r"[-,;]", hn) else [])
    base = re.match(r"\d+", hn)
    return out + (["~" + base.group(0)] if base else [])


def shorter_names(name: str) -> list[str]:
    """Shorter spellings people use for a place: the parts of ``A (B)``, and the name without a
    leading ``The``/``TC``/``Zgrada``, a title (``dr``) or the city (``Dom omladine Beograda``)."""
    m = re.match(r"^(.*?)\s*\((.+)\)\s*$", name)
    bases = [m.group(1), m.group(2)] if m else [name]
    bases = [b for b in bases if not set(keys(b)) <= CITY_WORDS]  # "Palilula (Beograd)"
    out = list(bases)
    for base in bases:
        toks = [t for t in tokenize(base, skip_links=False) if t.key not in TITLE_WORDS]
        while len(toks) > 1 and toks[0].key in LEAD_WORDS:
            toks = toks[1:]
        if len(toks) > 1 and toks[-1].key in CITY_WORDS:
            toks = toks[:-1]
        if len(toks) > 2 and toks[-1].key.startswith("#"):  # "Garni hotel Centar №1"
            toks = toks[:-1]
        out.append(" ".join(t.text for t in toks))
    seen, result = {keys(name)}, []
    for v in out:
        k = keys(v)
        if k and k not in seen and not (len(k) == 1 and len(k[0]) < 4):
            seen.add(k)
            result.append(v)
    return result
