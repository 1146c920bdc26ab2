"""Words for the messages a person reads: counts with the right plural, and lists as plain text."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

_ES_ENDINGS = ("s", "x", "z", "ch", "sh")  # English nouns that take "es": address, box, batch


def plural(n: int, word: str, many: str | None = None) -> str:
    """``n`` with ``word``, plural unless ``n`` is 1: ``plural(1, "post")`` is "1 post", ``plural(2,
    "batch", "batches")`` is "2 batches"; a word ending in s, x, z, ch or sh takes "es" ("2 addresses")."""
    if n == 1:
        return f"{n} {word}"
    return f"{n} {many or word + ('es' if word.endswith(_ES_ENDINGS) else 's')}"



def plural_with(n: int, word: str, verb: str, verb_many: str) -> str:
    """``n`` and ``word`` with its verb agreeing: "1 post waits", "2 posts wait"."""
    return f"{plural(n, word)} {verb if n == 1 else verb_many}"


def listed(items: Iterable[object]) -> str:
    """Items as plain words, e.g. "12, 13 and 14" (no brackets or quotes)."""
    words = [str(item) for item in items]
    if len(words) < 2:
        return "".join(words)
    return f"{', '.join(words[:-1])} and {words[-1]}"


def tally(counts: Mapping[str, int]) -> str:
    """Counts by reason as plain words, largest first: "21 source unavailable, 2 too large"."""
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return ", ".join(f"{n} {_spaced(reason)}" for reason, n in ordered if n)


def _spaced(name: str) -> str:
    """A reason's name as words: ``too_large`` and ``SourceUnavailable`` both read as words."""
    spaced = "".join(f" {c.lower()}" if c.isupper() and i else c.lower() for i, c in enumerate(name))
    return spaced.replace("_", " ")
