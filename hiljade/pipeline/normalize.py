"""Serbian text to tokens: words with offsets, folded forms and match keys.

Each ``Token`` keeps its character offsets into the original text, its folded form (``scripts.fold``)
and its match key (``morphology.stem``; ordinals as ``#N``, also Roman numerals and
``dvadeset prvog``). ``keys`` and ``folds`` give those of a whole name; ``shorter_names`` the shorter
spellings people use for a place.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final, NamedTuple

from hiljade.pipeline.morphology import stem
from hiljade.pipeline.numerals import ROMAN, TENS, roman_value
from hiljade.pipeline.scripts import fold

# a word, or where a sentence may end
_SCAN_RE: Final = re.compile(r"(\d+|[^\W\d_]+)|[!?;\n]|\.(?=\s+[^\W\d_])")
_SPLIT_RE: Final = re.compile(r"(\d+|[^\W\d_]+)")  # the words of _SCAN_RE, with what lies between them
_RUN_RE: Final = re.compile(r"(\w+)")  # runs of word characters: mostly one word each, and quicker to find
_WORD_RE: Final = re.compile(r"\d+|[^\W\d_]+")  # one word of _SPLIT_RE
_GAP_CACHE: Final = 10_000  # gaps between words whose sentence ends are kept
_SKIP_RE: Final = re.compile(r"(?:https?://|www\.)\S+|[@#][\w.]+|\b\w+@\w[\w.]*")
_SKIP_NO_AT_RE: Final = re.compile(r"(?:https?://|www\.)\S+|#[\w.]+")  # those of a text without "@"
_WORD_CACHE: Final = 200_000  # words whose folded form and key are kept


def _words(text: str) -> frozenset[str]:
    """A set of words written as one string."""
    return frozenset(text.split())


ABBREVIATIONS: Final = _words("ul br bul sv dr gen kralj str tc st nar")


class Token(NamedTuple):
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


_new_token: Final = tuple.__new__  # Token(...) without the keyword handling: tokenize makes many


class _Word(NamedTuple):
    """What tokenize needs of a word, worked out once per distinct word."""

    fold: str
    key: str  # its key with no "." after it
    key_dot: str  # its key with a "." after it (a lone capital I, V, X is a Roman numeral then)
    upper: bool
    keeps_sentence: bool  # a "." after it ends no sentence: a number, an abbreviation, one letter
    tens: bool  # "dvadeset" of "dvadeset prvog"


_word_info: Final[dict[str, _Word]] = {}  # up to _WORD_CACHE words, then it starts over


def _word(word: str) -> _Word:
    info = _word_info.get(word)
    if info is None:
        folded = fold(word)
        key = stem(folded)
        roman = word.isupper() and ROMAN.fullmatch(word) is not None
        key_dot = f"#{roman_value(word)}" if roman else key  # "XI krajiške" = "11. krajiške"
        info = _Word(
            folded,
            key_dot if len(word) > 1 else key,
            key_dot,
            word[:1].isupper(),
            folded.isdigit() or folded in ABBREVIATIONS or len(folded) == 1,
            folded in TENS,
        )
        if len(_word_info) >= _WORD_CACHE:
            _word_info.clear()
        _word_info[word] = info
    return info


def _skipped_spans(text: str) -> list[tuple[int, int]]:
    """Links, @mentions, #hashtags and e-mail addresses (spans in text order, none overlapping)."""
    if "@" in text:
        return [m.span() for m in _SKIP_RE.finditer(text)]
    if "#" in text or "://" in text or "www." in text:
        return [m.span() for m in _SKIP_NO_AT_RE.finditer(text)]
    return []


_gap_info: Final[dict[str, tuple[int, bool]]] = {" ": (0, False), "": (0, False)}


def _gap(gap: str) -> tuple[int, bool]:
    """The sentence ends ``_SCAN_RE`` finds in the text between two words: how many ``!?;`` and line
    breaks, and whether it ends in a "." and white space (an end when a letter, not a digit, follows)."""
    info = _gap_info.get(gap)
    if info is None:
        stripped = gap.rstrip()  # str white space is re's \s
        info = (sum(map(gap.count, "!?;\n")), len(stripped) < len(gap) and stripped.endswith("."))
        if len(_gap_info) < _GAP_CACHE:
            _gap_info[gap] = info
    return info


def tokenize(text: str, *, skip_links: bool = True) -> list[Token]:
    """Words and numbers of ``text`` with offsets; URLs, @mentions and #hashtags are left out.

    The words and sentence ends are those of ``_SCAN_RE``, read from one split of the text into
    words and the gaps between them (``_gap``): into runs of word characters first, and into words
    when a run holds several ("br5", "a_b")."""
    skipped = _skipped_spans(text) if skip_links else []
    raw = _tokens(text, _RUN_RE.split(text), skipped)
    if raw is None:
        raw = _tokens(text, _SPLIT_RE.split(text), skipped)
    assert raw is not None
    return raw


def _tokens(text: str, parts: list[str], skipped: list[tuple[int, int]]) -> list[Token] | None:
    """The tokens of ``text`` split into ``parts`` (gap, word, gap, word, ..., gap); None when a part
    taken for a word is more than one."""
    n_skipped, s = len(skipped), 0
    raw: list[Token] = []
    sentence, first = 0, True
    breaks = dots = 0  # possible sentence ends since the last word kept, and how many of them are "."
    keeps = False  # the last word kept: a "." after it ends no sentence ("17. oktobra", "ul. X")
    tens = False
    size = len(text)
    end = 0
    for k in range(1, len(parts), 2):  # gap, word, gap, word, ..., gap: the last gap has no word after it
        gap, word = parts[k - 1], parts[k]
        start = end + len(gap)
        end = start + len(word)
        if gap != " ":
            more, dot = _gap_info.get(gap) or _gap(gap)
            breaks += more
            if dot and not word[0].isdecimal():  # re's \d is a decimal digit
                breaks += 1
                dots += 1
        info = _word_info.get(word)
        if info is None:
            if _WORD_RE.fullmatch(word) is None:
                return None  # several words in one run
            info = _word(word)
        if n_skipped:
            while s < n_skipped and skipped[s][1] <= start:
                s += 1
            if s < n_skipped and skipped[s][0] <= start:
                continue
        if breaks:
            if keeps:
                breaks -= dots
            if breaks:
                sentence += breaks
                first = True
            breaks = dots = 0
        folded, key, key_dot, upper, keeps, ten = info
        if end < size and text[end] == ".":
            raw.append(_new_token(Token, (word, start, end, folded, key_dot, sentence, True, upper, first)))
        else:
            raw.append(_new_token(Token, (word, start, end, folded, key, sentence, False, upper, first)))
        first = False
        if ten:
            tens = True
    return _merge_compound_ordinals(raw) if tens else raw


def _merge_compound_ordinals(tokens: list[Token]) -> list[Token]:
    """``dvadeset prvog`` -> one token ``#21``."""
    out: list[Token] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        if tok.fold in TENS and nxt is not None and nxt.key.startswith("#"):
            unit = int(nxt.key[1:])
            if unit < 10 and not nxt.fold.isdigit():
                out.append(
                    Token(
                        tok.text + " " + nxt.text,
                        tok.start,
                        nxt.end,
                        tok.fold + " " + nxt.fold,
                        f"#{TENS[tok.fold] + unit}",
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


LEAD_WORDS: Final = _words("the tc zgrad palat sc kc")  # "TC Staklenac", "Zgrada Hempro", "Palata Albanija"
TITLE_WORDS: Final = _words("dr prof ing mr")  # "Plato dr Zorana Đinđića"
CITY_WORDS: Final = _words("beograd belgrad belgrade")  # "Dom omladine Beograda"
KIND_SYNONYMS: Final = (  # the words a kind of place goes by: "OŠ Vladimir Rolović", "crkva" for a "hram"
    ("Основна школа", "ОШ"),
    ("Храм", "Црква"),
    ("Тржни центар", "ТЦ"),
    ("Дом здравља", "ДЗ"),
    ("Osnovna škola", "OŠ"),
    ("Hram", "Crkva"),
    ("Tržni centar", "TC"),
    ("Dom zdravlja", "DZ"),
)


def _synonyms(base: str) -> list[str]:
    """The name with its leading kind word said the other usual way (``ОШ X`` = ``Основна школа X``)."""
    toks = tokenize(base, skip_links=False)
    cyrillic = any("\u0400" <= ch <= "\u04ff" for ch in base)
    out = []
    for a, b in KIND_SYNONYMS:
        if any("\u0400" <= ch <= "\u04ff" for ch in a) != cyrillic:
            continue
        for src, dst in ((a, b), (b, a)):
            lead = keys(src)
            if len(toks) > len(lead) and tuple(t.key for t in toks[: len(lead)]) == lead:
                out.append(dst + base[toks[len(lead) - 1].end :])
    return out


def shorter_names(name: str) -> list[str]:
    """Shorter spellings people use for a place: the parts of ``A (B)``, and the name without a
    leading ``The``/``TC``/``Zgrada``, a title (``dr``) or the city (``Dom omladine Beograda``), or
    with its kind said the other usual way (``OŠ`` for ``Osnovna škola``, ``crkva`` for ``hram``)."""
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
        out += _synonyms(base)
    seen, result = {keys(name)}, []
    for v in out:
        k = keys(v)
        if k and k not in seen and not (len(k) == 1 and len(k[0]) < 4):
            seen.add(k)
            result.append(v)
    return result
