"""twarc2 JSONL archives into the store, streamed line by line.

Each line is detected on its own: a raw API response page (``{"data": [...] or {...},
"includes": {...}, "meta": ..., "__twarc": {...}}``), a twarc2-flattened tweet (one tweet with
``author``, ``attachments.media`` and ``referenced_tweets`` inline), or a JSON list of either.
A line that is none of these (or not JSON) is counted and described, never fatal. Tweets become
the same records as the live harvest (``twitter_tweet``), so an archive and a harvest of the
same tweet are one post; importing twice stores nothing new.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from sqlalchemy import select

from hiljade.harvester.mastodon_status import parse_time
from hiljade.harvester.twitter_tweet import (
    DEFAULT_SERVER,
    MALFORMED,
    OPTED_OUT,
    ORIGINAL_UNAVAILABLE,
    PLATFORM,
    Includes,
    convert_tweet,
)
from hiljade.models.posts import DUPLICATE, ERASED, NEW, UPDATED, AuthorPolicy, save_post
from hiljade.models.schema import Post, PostCopy
from hiljade.models.store import Store
from hiljade.records import PostRecord

MAX_PROBLEMS = 1000  # described bad lines kept in the report (all are counted)


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
class TwarcReport:
    """What an import did."""

    source: str = ""
    lines: int = 0
    tweets: int = 0  # tweets read: every entry of ``data`` and every flattened tweet
    new_posts: int = 0
    updated_posts: int = 0
    duplicates: int = 0  # already stored (an earlier import, the harvest, or earlier in the file)
    erased: int = 0  # deleted at the source and erased here earlier: never stored again
    opted_out: int = 0
    retweets: int = 0  # retweets read (each stored as its original)
    original_unavailable: int = 0  # retweets whose original the archive does not hold
    malformed: int = 0  # tweets that could not be converted (no id, no time)
    bad_lines: int = 0
    problems: list[str] = field(default_factory=list)

    def problem(self, text: str) -> None:
        self.bad_lines += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(text)

    def summary(self) -> str:
        return (f"import twarc: {self.source}: {self.lines} lines, {self.tweets} tweets, "
                f"{self.new_posts} new posts, {self.updated_posts} edited, {self.duplicates} duplicates, "
                f"{self.erased} erased earlier, "
                f"{self.retweets} retweets "
                f"({self.original_unavailable} without their original), {self.opted_out} opted out, "
                f"{self.malformed} malformed tweets, {self.bad_lines} bad lines")


Item = tuple[Mapping[str, Any], Includes, Envelope]


def line_items(line: str, fallback: str) -> list[Item]:
    """The tweets of one JSONL line with their expansions; ValueError says why a line is not twarc."""
    try:
        value = json.loads(line)
    except ValueError as exc:
        raise ValueError(f"not JSON ({exc})") from None
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


def open_archive(path: Path | str) -> IO[bytes]:
    """The archive's bytes: a file (gzip-compressed or not) or stdin for ``-``."""
    if str(path) == "-":
        return sys.stdin.buffer
    raw = open(path, "rb")  # noqa: SIM115 - returned to the caller, who closes it
    if raw.peek(2)[:2] != b"\x1f\x8b":
        return raw
    raw.close()
    return gzip.open(path, "rb")  # type: ignore[return-value]


def read_archive(stream: Iterable[bytes], report: TwarcReport, fallback: str) -> Iterator[Item]:
    """Every tweet of the archive in file order; bad lines go into the report."""
    for number, raw in enumerate(stream, 1):
        report.lines = number
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            report.problem(f"line {number}: not UTF-8 ({exc})")
            continue
        if not line.strip():
            continue
        try:
            items = line_items(line, fallback)
        except ValueError as exc:
            report.problem(f"line {number}: {exc}")
            continue
        yield from items


def import_twarc(
    store: Store,
    policy: AuthorPolicy,
    path: Path | str,
    *,
    batch_size: int = 500,
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    progress: Callable[[TwarcReport], None] | None = None,
) -> TwarcReport:
    """Import one twarc2 JSONL file (``-`` for stdin) into the store; commits every ``batch_size`` tweets."""
    report = TwarcReport(source=str(path))
    fallback = f"twarc:{Path(str(path)).name}" if str(path) != "-" else "twarc:stdin"
    stream = open_archive(path)
    try:
        batch: list[PostRecord] = []
        for tweet, includes, envelope in read_archive(stream, report, fallback):
            report.tweets += 1
            done = convert_tweet(tweet, includes, server=envelope.server, fetched_from=envelope.fetched_from,
                                 fetched_at=envelope.fetched_at or clock())
            report.retweets += done.retweet
            if done.record is not None:
                batch.append(done.record)
            elif done.reason == OPTED_OUT:
                report.opted_out += 1
            elif done.reason == ORIGINAL_UNAVAILABLE:
                report.original_unavailable += 1
            elif done.reason == MALFORMED:
                report.malformed += 1
            if len(batch) >= batch_size:
                _save(store, policy, batch, report, clock())
                batch = []
                if progress:
                    progress(report)
        _save(store, policy, batch, report, clock())
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
    return report


def _save(store: Store, policy: AuthorPolicy, batch: list[PostRecord], report: TwarcReport,
          now: dt.datetime) -> None:
    """Store a batch in one transaction; a tweet already stored through the same copy, and not a newer
    edit, is counted without a write (archives repeat originals: every retweet carries one)."""
    if not batch:
        return
    posts, copies = Post.__table__, PostCopy.__table__
    with store.transaction() as conn:
        known = dict(conn.execute(select(posts.c.uri, posts.c.edited_at).where(
            posts.c.platform == PLATFORM, posts.c.uri.in_({r.uri for r in batch}))).all())
        seen = set(conn.execute(select(copies.c.server, copies.c.native_id).where(
            copies.c.platform == PLATFORM, copies.c.native_id.in_({r.native_id for r in batch}))).all())
        for record in batch:
            if _already_stored(record, known, seen):
                report.duplicates += 1
                continue
            outcome = save_post(conn, record, policy, now)
            if outcome == NEW:
                report.new_posts += 1
            elif outcome == UPDATED:
                report.updated_posts += 1
            elif outcome == ERASED:
                report.erased += 1
            else:
                report.duplicates += 1
            seen.add((record.server, record.native_id))
            if outcome != DUPLICATE or record.uri not in known:
                known[record.uri] = record.edited_at


def _already_stored(record: PostRecord, known: dict[str, Any], seen: set[tuple[str, str]]) -> bool:
    """True when this copy of the post is stored and the record is not a newer edit of it."""
    if (record.server, record.native_id) not in seen or record.uri not in known:
        return False
    stored_edit = known[record.uri]
    return record.edited_at is None or (stored_edit is not None and record.edited_at <= stored_edit)


def _short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
