"""Locating a batch of posts for `hiljade process`: the pure ``locate`` over each post's text and
evidence, its answer already in the shape the store keeps (evidence serialised to JSON once), on this
process or on a pool of worker processes.

The pool (``process.workers`` above 1) is forked once per run, so every worker inherits the gazetteer
instead of receiving it; texts go out in chunks and answers come back in order. Workers never ask the
online geocoder (it needs the batch's transaction for its cache): a post for which ``locate`` would
ask it is located again by the caller with the geocoder, so the answers are the same either way.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from collections.abc import Sequence
from multiprocessing.pool import AsyncResult, Pool
from types import TracebackType
from typing import Any, NamedTuple

from hiljade.pipeline.gazetteer import Gazetteer
from hiljade.pipeline.locate import Located, locate
from hiljade.records import Candidate

PARALLEL_FROM = 1000  # fewer posts than this are located here: starting workers would cost more
TASKS_PER_WORKER = 4  # a batch goes out in this many chunks per worker (answers keep their order)

# (chosen, method, lat, lon, precision_m, confidence, status, matched, span_start, span_end, source,
# evidence as JSON text): a sighting's columns but its post, pipeline version and time
CandidateRow = tuple[Any, ...]


class PostAnswer(NamedTuple):
    """What ``locate`` found for one post, as the store keeps it."""

    outcome: str
    reason: str
    rows: tuple[CandidateRow, ...]
    asked: bool = False  # the geocoder would have been asked (only when the locator was told it may be)


def answer(located: Located, *, asked: bool = False) -> PostAnswer:
    chosen = located.chosen
    rows = tuple(
        (
            c is chosen,
            c.method,
            c.lat,
            c.lon,
            c.precision_m,
            c.confidence,
            c.status,
            c.matched,
            c.span[0] if c.span else None,
            c.span[1] if c.span else None,
            c.source,
            evidence_json(c.evidence),
        )
        for c in located.candidates
    )
    return PostAnswer(located.outcome, located.reason, rows, asked)


def evidence_json(evidence: Any) -> str:
    """``evidence`` as JSON text: anything JSON has no word for as its text, every key as a string."""
    return json.dumps(evidence if _plain(evidence) else _jsonable(evidence))


def _plain(value: Any) -> bool:
    """JSON as it is: strings for keys, and only dicts, lists, tuples, strings, numbers, booleans, None
    (exactly these types; anything else, subclasses too, takes the careful way)."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is dict:
            for key in item:
                if type(key) is not str:
                    return False
            stack.extend(item.values())
        elif kind is list or kind is tuple:
            stack.extend(item)
        elif not (kind is str or kind is int or kind is float or kind is bool or item is None):
            return False
    return True


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def locate_answer(
    text: str, gazetteer: Gazetteer | None, extra: Sequence[Candidate], geocoding: bool
) -> PostAnswer:
    """``locate`` without the geocoder; with ``geocoding`` the answer says whether it would ask it."""
    asked: list[str] = []

    def would_ask(query: str) -> list[Candidate]:
        asked.append(query)
        return []

    located = locate(text, gazetteer, extra=extra, geocode=would_ask if geocoding else None)
    return answer(located, asked=bool(asked))


Item = tuple[str, Sequence[Candidate]]  # a post's text and the evidence besides it
_worker: dict[str, Any] = {}  # in a worker: the gazetteer it inherited, and whether a geocoder is on


def _start_worker(gazetteer: Gazetteer | None, geocoding: bool) -> None:
    _worker.update(gazetteer=gazetteer, geocoding=geocoding)


def _locate_chunk(items: list[Item]) -> list[PostAnswer]:
    return [locate_answer(text, _worker["gazetteer"], extra, _worker["geocoding"]) for text, extra in items]


def usable_workers(setting: int) -> int:
    """Worker processes for ``setting``: at most one per CPU, and one where processes cannot be forked."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    return max(1, min(setting, os.cpu_count() or 1))


class Job:
    """Posts handed to a locator; ``answers`` are in their order, None where the caller locates."""

    def __init__(self, items: list[Item], pending: AsyncResult[list[list[PostAnswer]]] | None) -> None:
        self.items = items
        self.pending = pending

    def answers(self) -> list[PostAnswer | None]:
        if self.pending is None:
            return [None] * len(self.items)
        return [found for chunk in self.pending.get() for found in chunk]


class Locator:
    """Locates batches on ``workers`` forked processes, or leaves them to the caller with one worker."""

    def __init__(self, gazetteer: Gazetteer | None, workers: int, *, geocoding: bool) -> None:
        self.gazetteer = gazetteer
        self.workers = workers
        self.geocoding = geocoding
        self.pool: Pool | None = None

    @property
    def parallel(self) -> bool:
        return self.pool is not None

    def __enter__(self) -> Locator:
        if self.workers > 1:
            context = multiprocessing.get_context("fork")
            self.pool = context.Pool(self.workers, _start_worker, (self.gazetteer, self.geocoding))
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()
            self.pool = None

    def start(self, items: list[Item]) -> Job:
        """Send ``items`` to the workers (without waiting for them), or leave them to the caller."""
        if self.pool is None or not items:
            return Job(items, None)
        size = max(1, -(-len(items) // (self.workers * TASKS_PER_WORKER)))
        chunks = [items[start : start + size] for start in range(0, len(items), size)]
        return Job(items, self.pool.map_async(_locate_chunk, chunks, chunksize=1))
