"""The one union-find: items joined by links into groups, each named by its smallest member."""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any


class DisjointSets:
    """Disjoint sets of orderable items; the root of a set is always its smallest member."""

    def __init__(self, items: Iterable[Hashable] = ()) -> None:
        self.parent: dict[Any, Any] = {}
        for item in items:
            self.parent.setdefault(item, item)

    def find(self, item: Any) -> Any:
        """The root of ``item``'s set (an unseen item starts a set of its own)."""
        parent = self.parent
        parent.setdefault(item, item)
        while parent[item] != item:
            parent[item] = parent[parent[item]]  # path halving
            item = parent[item]
        return item

    def union(self, a: Any, b: Any) -> Any:
        """Join the sets of ``a`` and ``b``; returns the root of the joined set."""
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)
        return min(ra, rb)

    def roots(self) -> dict[Any, Any]:
        """Every item seen (in the order first seen) -> the root of its set."""
        return {item: self.find(item) for item in self.parent}

    def groups(self) -> dict[Any, list[Any]]:
        """Root -> the members of its set, both in the order the items were first seen."""
        out: dict[Any, list[Any]] = {}
        for item in self.parent:
            out.setdefault(self.find(item), []).append(item)
        return out


def count_groups(links: Iterable[tuple[Any, Any]], items: Iterable[Any]) -> int:
    """How many different sets ``items`` fall in, given ``links`` joining pairs of items."""
    sets = DisjointSets()
    for a, b in links:
        sets.union(a, b)
    return len({sets.find(item) for item in set(items)})
