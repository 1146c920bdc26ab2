"""Serbian scripts: Cyrillic and Latin both ways, and ``fold`` to one plain Latin form.

``fold`` maps any spelling of a word to one plain Latin form (``Ђорђа`` = ``Đorđa`` = ``Djordja``
= ``Dordja`` -> ``dorda``).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

_CYR_LAT: Final = {
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
_TO_LATIN: Final = str.maketrans(_CYR_LAT)
_LAT_DIGRAPHS: Final = {
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
_LAT_CYR: Final = {v: k for k, v in _CYR_LAT.items() if len(v) == 1}
_DIGRAPH_RE: Final = re.compile("|".join(sorted(_LAT_DIGRAPHS, key=len, reverse=True)))
_FOLD: Final = str.maketrans({"č": "c", "ć": "c", "š": "s", "ž": "z", "đ": "d"})


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
