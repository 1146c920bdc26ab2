"""twarc2 JSONL archives read as pages of post records, streamed line by line.

Each line is detected on its own: a raw API response page (``{"data": [...] or {...},
"includes": {...}, "meta": ..., "__twarc": {...}}``), a twarc2-flattened tweet (one tweet with
``author``, ``attachments.media`` and ``referenced_tweets`` inline), or a JSON list of either.
A line that is none of these (not JSON, nested too deeply, a lone surrogate, longer than
``imports.max_line_bytes``: read bounded, never whole) is counted and described, never fatal; NUL
characters are dropped. With ``hashtags`` only tweets carrying one of them are kept. Tweets become
the same records as the live harvest (``twitter_tweet``), so an archive and a harvest of the
same tweet are one post; importing twice stores nothing new.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import re
import sys
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from hiljade.defaults import DEFAULTS
from hiljade.errors import SourceError
from hiljade.harvester.mastodon_status import parse_time
from hiljade.harvester.twitter_tweet import (
    DEFAULT_SERVER,
    MALFORMED,
    OPTED_OUT,
    ORIGINAL_UNAVAILABLE,
    Includes,
    convert_tweet,
)
from hiljade.records import PostRecord

MAX_PROBLEMS = 1000  # described bad lines kept in the report (all are counted)
MAX_LINE_BYTES = int(DEFAULTS["imports"]["max_line_bytes"])
_SKIP_CHUNK = 1 << 20  # bytes read at a time while skipping an overlong line
NOT_TAGGED = "not_tagged"  # tweets without any of the hashtags asked for
_SURROGATE_OR_NUL = re.compile(r"\\u(?:[dD][89a-fA-F]|0000)|\x00")  # a cheap test before a full walk


@dataclass(frozen=True)
class Envelope:
    """Where a tweet was fetched: twarc's ``__twarc`` request URL and retrieval time."""

    server: str = DEFAULT_SERVER
    fetched_from: str = ""
    fetched_at: dt.datetime | None = None

    @classmethod
    def of(cls, item: Mapping[str, Any], fallback: str) -> Envelope:
        meta = item.get("__twarc") if isinstance(item.get("__twarc"), Mapping) else {}
        url = meta.get("url") if isinstance(meta.get("url"), str) else ""
        parts = urlsplit(url)
        server = f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc \
            else DEFAULT_SERVER
        return cls(server, url or fallback, parse_time(meta.get("retrieved_at")))


@dataclass
class TwarcPage:
    """Tweets converted from an archive, with what was counted since the previous page."""

    records: list[PostRecord] = field(default_factory=list)
    lines: int = 0  # lines read so far
    counts: Counter[str] = field(default_factory=Counter)  # tweets, retweets, opted_out, not_tagged, ...
    bad_lines: int = 0
    problems: list[str] = field(default_factory=list)  # bad lines described (MAX_PROBLEMS in all)
    last: bool = False  # the archive's end


Item = tuple[Mapping[str, Any], Includes, Envelope]


def line_items(line: str, fallback: str) -> list[Item]:
    """The tweets of one JSONL line with their expansions; ValueError says why a line is not twarc."""
    try:
        value = json.loads(line)
    except ValueError as exc:
        raise ValueError(f"not JSON ({exc})") from None
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    if _SURROGATE_OR_NUL.search(line):
        value = _clean(value)
    items: list[Item] = []
    for element in value if isinstance(value, list) else [value]:
        items.extend(_element_items(element, fallback))
    return items


def _element_items(element: Any, fallback: str) -> list[Item]:
    if not isinstance(element, Mapping):
        raise ValueError(f"expected a JSON object, got {type(element).__name__}")
    if "data" in element:
        data = element["data"]
        tweets = data if isinstance(data, list) else [data]
        if not all(isinstance(t, Mapping) for t in tweets):
            raise ValueError("'data' holds something other than tweet objects")
        includes = Includes.from_response(element.get("includes"))
        envelope = Envelope.of(element, fallback)
        return [(t, includes, envelope) for t in tweets]
    if "id" in element and ("text" in element or "note_tweet" in element):
        return [(element, Includes.from_flattened(element), Envelope.of(element, fallback))]
    if "errors" in element:
        raise ValueError("an API error response without tweets: "
                         + _short(json.dumps(element.get("errors"), ensure_ascii=False)))
    raise ValueError("neither a twarc2 API page (with 'data') nor a flattened tweet (with 'id' and 'text')")


def _clean(value: Any) -> Any:
    """The value without NUL characters; ValueError for a lone surrogate (no store can keep one)."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
        return _without_nul(value)
    except UnicodeEncodeError:
        raise ValueError("text with a lone surrogate (not valid Unicode)") from None
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    return value


def open_archive(path: Path | str) -> IO[bytes]:
    """The archive's bytes: a file (gzip-compressed or not) or stdin for ``-``; SourceError when the
    file cannot be opened."""
    if str(path) == "-":
        return sys.stdin.buffer
    try:
        raw = open(path, "rb")  # noqa: SIM115 - returned to the caller, who closes it
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc.strerror or exc}", kind="file") from None
    if raw.peek(2)[:2] != b"\x1f\x8b":
        return raw
    raw.close()
    return gzip.open(path, "rb")  # type: ignore[return-value]


def bounded_lines(stream: IO[bytes], limit: int) -> Iterator[bytes | str]:
    """The stream's lines, each read at most ``limit`` bytes at a time; a longer line is skipped (read in
    pieces, never whole) and yields why instead, as does a compressed archive that breaks off."""
    try:
        while raw := stream.readline(limit + 1):
            if len(raw) <= limit or raw.endswith(b"\n"):
                yield raw
                continue
            size = len(raw)
            while rest := stream.readline(_SKIP_CHUNK):
                size += len(rest)
                if rest.endswith(b"\n"):
                    break
            yield f"{size:,} bytes, longer than imports.max_line_bytes ({limit:,}): skipped"
    except (OSError, EOFError, zlib.error) as exc:
        yield f"the archive breaks off here ({exc})"


def read_archive(stream: IO[bytes], fallback: str, *, max_line_bytes: int = MAX_LINE_BYTES
                 ) -> Iterator[tuple[int, list[Item] | str]]:
    """Every line's number with its tweets (none for a blank line), or with why the line is bad."""
    for number, raw in enumerate(bounded_lines(stream, max_line_bytes), 1):
        if isinstance(raw, str):
            yield number, f"line {number}: {raw}"
            continue
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield number, f"line {number}: not UTF-8 ({exc})"
            continue
        if not line.strip():
            yield number, []
            continue
        try:
            yield number, line_items(line, fallback)
        except ValueError as exc:
            yield number, f"line {number}: {exc}"


def read_twarc(
    path: Path | str, *, batch_size: int = 500, clock: Callable[[], dt.datetime],
    max_line_bytes: int = MAX_LINE_BYTES, hashtags: Iterable[str] | None = None,
) -> Iterator[TwarcPage]:
    """Pages of ``batch_size`` converted tweets from a twarc2 JSONL file (``-`` for stdin); the last page
    (``last``) carries what was counted after the previous one. With ``hashtags``, a tweet without any
    of them is counted ``not_tagged`` and not kept. SourceError when the file cannot be opened."""
    fallback = f"twarc:{Path(str(path)).name}" if str(path) != "-" else "twarc:stdin"
    wanted = None if hashtags is None else frozenset(t.lstrip("#").casefold() for t in hashtags)
    stream = open_archive(path)
    try:
        page, described = TwarcPage(), 0
        for number, items in read_archive(stream, fallback, max_line_bytes=max_line_bytes):
            page.lines = number
            if isinstance(items, str):
                page.bad_lines += 1
                if described < MAX_PROBLEMS:
                    page.problems.append(items)
                    described += 1
                continue
            for item in items:
                _convert(page, item, clock, wanted)
                if len(page.records) >= batch_size:
                    yield page
                    page = TwarcPage(lines=number)
        page.last = True
        yield page
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()


def _convert(page: TwarcPage, item: Item, clock: Callable[[], dt.datetime],
             wanted: frozenset[str] | None) -> None:
    """Add one tweet to the page: its record, or the reason it has none."""
    tweet, includes, envelope = item
    page.counts["tweets"] += 1
    try:
        done = convert_tweet(tweet, includes, server=envelope.server, fetched_from=envelope.fetched_from,
                             fetched_at=envelope.fetched_at or clock())
    except (ValueError, TypeError, OverflowError, RecursionError):  # a field no record can hold
        page.counts[MALFORMED] += 1
        return
    page.counts["retweets"] += done.retweet
    if done.record is not None and wanted is not None \
            and not wanted.intersection(t.casefold() for t in done.record.hashtags):
        page.counts[NOT_TAGGED] += 1
    elif done.record is not None:
        page.records.append(done.record)
    elif done.reason in (OPTED_OUT, ORIGINAL_UNAVAILABLE, MALFORMED):
        page.counts[done.reason] += 1


def _short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
