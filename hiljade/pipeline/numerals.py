"""Numbers in names: ordinal words (``sedamnaestog`` -> 17), Roman numerals and house numbers."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final

from hiljade.pipeline.scripts import fold

ORDINAL_STEMS: Final = {
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
# the tens of compound ordinals (``dvadeset prvog`` -> 21)
TENS: Final = {stem: value for stem, value in ORDINAL_STEMS.items() if 20 <= value <= 90}
_ORDINAL_ENDINGS: Final = (
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


def ordinal_value(word: str) -> int | None:
    """The number of a folded ordinal word (``sedamnaestog`` -> 17), else None; bare cardinals are not."""
    for ending in _ORDINAL_ENDINGS:
        if word.endswith(ending):
            value = ORDINAL_STEMS.get(word[: -len(ending)])
            if value is not None:
                return value
    return None


# an uppercase Roman numeral below 100
ROMAN: Final = re.compile(r"(?=[IVXLC])(X{0,3}|XL|L?X{0,3}|XC)(IX|IV|V?I{0,3})")
_ROMAN_VALUES: Final = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100}


def roman_value(numeral: str) -> int:
    """The value of an uppercase Roman numeral (``XIV`` -> 14)."""
    values = [_ROMAN_VALUES[c] for c in numeral]
    return sum(-v if i + 1 < len(values) and v < values[i + 1] else v for i, v in enumerate(values))


def housenumber_keys(housenumber: str) -> list[str]:
    """Lookup keys of a house number: ``8a`` -> [8a, ~8]; ``6-8`` -> [6-8, 6, 8, ~6]."""
    return list(_housenumber_keys(housenumber))


@lru_cache(maxsize=10_000)
def _housenumber_keys(housenumber: str) -> tuple[str, ...]:
    hn = "".join(fold(housenumber).split())
    if not hn:
        return ()
    out = [hn] + ([p for p in re.split(r"[-,;]", hn) if p] if re.search(r"[-,;]", hn) else [])
    base = re.match(r"\d+", hn)
    return tuple(out + (["~" + base.group(0)] if base else []))
