"""Serbian morphology, lightly: case endings stripped (``stem``), sound changes, adjective gender.

``stem`` strips Serbian case endings so declined forms meet (``Makedonskoj`` -> ``makedonsk``,
``Terazijama`` -> ``terazij``); ordinals, in digits or words, become ``#N`` (``17.`` =
``Sedamnaestog`` -> ``#17``).
"""

from __future__ import annotations

from typing import Final

from hiljade.pipeline.numerals import ordinal_value

# case endings, longest first; the stem keeps at least _MIN_STEM letters
_ENDINGS: Final = (
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
_MIN_STEM: Final = 3
_EXPANSIONS: Final = {"sv": "sveti", "bul": "bulevar", "blvd": "bulevar", "tc": "tc"}


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


def sibilant_alternative(key: str) -> str | None:
    """The dative/locative form of a noun stem before -i (``bank`` -> ``banc``), if it changes."""
    last = {"k": "c", "g": "z", "h": "s"}.get(key[-1:]) if not key.startswith("#") else None
    return key[:-1] + last if last else None


def fleeting_a(key: str) -> str | None:
    """The oblique stem of a noun with a fleeting a: ``kutak`` -> ``kutk`` (``kutka``), ``centar`` ->
    ``centr`` (``centru``), ``sajam`` -> ``sajm``, ``toranj`` -> ``tornj`` (``Avalskog tornja``)."""
    last = key[-2:] if key.endswith(("nj", "lj")) else key[-1:]
    body = key[: -len(last) - 1] if last else ""
    if len(key) < 5 or key[-len(last) - 1 : -len(last)] != "a" or last[0] in "aeiou#" or not body:
        return None
    return body + last if body[-1] not in "aeiou" else None


_FEMININE_ADJECTIVE: Final = ("ska", "cka", "ova", "eva", "ina")
_NOT_FEMININE: Final = ("og", "oga", "omu", "ome", "i", "o")


def feminine_adjective(word: str) -> bool:
    """A folded word that looks like a feminine adjective (``makedonska``, ``kolarceva``)."""
    return len(word) >= 5 and word.endswith(_FEMININE_ADJECTIVE)


def agrees(name_word: str, text_word: str) -> bool:
    """False when a feminine adjective of a name is written in a masculine/neuter form
    (``Avalskog tornja`` is not ``Avalska``)."""
    return not (feminine_adjective(name_word) and text_word.endswith(_NOT_FEMININE))
