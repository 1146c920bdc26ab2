"""Imports of twarc archives, mail and photo folders: the harvester reads, this stores and counts.

twarc pages commit one transaction each; a message or a photo is one transaction. A post already
stored is counted ``known`` (or a duplicate) and, for mail and photos, not read further.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hiljade.config import Config
from hiljade.errors import SourceError
from hiljade.harvester.mail import PLATFORM as MAIL
from hiljade.harvester.mail import detect_container, read_mail
from hiljade.harvester.photos import PLATFORM as PHOTOS
from hiljade.harvester.photos import ImageCheck, Original, read_photos
from hiljade.harvester.twarc import MAX_LINE_BYTES, MAX_PROBLEMS, NOT_TAGGED, TwarcPage, read_twarc
from hiljade.harvester.twitter_tweet import PLATFORM as TWITTER
from hiljade.models.posts import (
    DUPLICATE,
    ERASED,
    NEW,
    UPDATED,
    AuthorPolicy,
    is_known,
    save_original,
    save_post,
    stored_copies,
    stored_edits,
)
from hiljade.models.store import Store
from hiljade.records import PostRecord
from hiljade.services.store import author_policy
from hiljade.wording import plural, tally

Clock = Callable[[], dt.datetime]


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# ---- mail and photo folders ----------------------------------------------------------------------


@dataclass
class ImportReport:
    """What an import did; ``refused`` counts refused files or attachments by reason."""

    kind: str
    items: int = 0  # messages or photo files looked at
    imported: int = 0
    known: int = 0
    photos: int = 0  # photos accepted
    located: int = 0  # accepted photos with a GPS position
    refused: Counter[str] = field(default_factory=Counter)
    unreadable: int = 0  # messages that could not be parsed
    refused_messages: Counter[str] = field(default_factory=Counter)  # not parsed: too large, a huge header
    container: str = ""

    def summary(self) -> str:
        refused = sum(self.refused.values())
        reasons = tally(self.refused)
        refused_text = f"; refused {refused}: {reasons}" if refused else "; refused 0"
        if self.kind == "mail":
            messages = tally(self.refused_messages)
            count = sum(self.refused_messages.values())
            refused_messages = f", {count} refused ({messages})" if messages else ""
            return (
                f"import mail: {plural(self.items, 'message')} ({self.container or 'none'}): "
                f"{self.imported} imported, {self.known} already known, {self.unreadable} unreadable"
                f"{refused_messages}; {plural(self.photos, 'photo')} accepted, "
                f"{self.located} with GPS{refused_text.replace('refused', 'refused attachments', 1)}"
            )
        return (
            f"import photos: {plural(self.items, 'file')}: {self.imported} imported "
            f"({self.imported - self.located} without GPS), {self.known} already known{refused_text}"
        )

    def add(self, item: Original, outcome: str | None) -> None:
        """Count one item read and, when it had a post, what storing it did."""
        self.items += 1
        self.known += item.known
        self.unreadable += item.unreadable
        self.refused.update(item.refused)
        if item.refused_message:
            self.refused_messages[item.refused_message] += 1
        if outcome == NEW:
            self.imported += 1
            self.photos += len(item.photos)
            self.located += sum(photo.exif.lat is not None for _, photo in item.photos)
        elif outcome is not None:
            self.known += 1


def _store_originals(
    store: Store, policy: AuthorPolicy, items: Iterable[Original], report: ImportReport
) -> ImportReport:
    """Store every post read (one transaction each) and count what happened."""
    for item in items:
        outcome = None
        if item.post is not None:
            with store.transaction() as conn:
                outcome = save_original(conn, item.post, item.hashes, policy, item.post.fetched_at)
        report.add(item, outcome)
    return report


def _known(store: Store, platform: str) -> Callable[[str], bool]:
    def known(uri: str) -> bool:
        with store.connect() as conn:
            return is_known(conn, platform, uri)

    return known


def import_mail(config: Config, store: Store, path: Path, *, clock: Clock = _utcnow) -> ImportReport:
    """Import every message under ``path`` (a maildir, an mbox or ``.eml`` files)."""
    container = detect_container(path)
    check = ImageCheck.from_config(config)
    policy = author_policy(config)
    report = ImportReport("mail", container=container)
    items = read_mail(path, container, check, known=_known(store, MAIL), clock=clock,
                      max_message_bytes=int(config.get("imports.max_message_bytes")),
                      max_header_bytes=int(config.get("imports.max_header_bytes")))
    return _store_originals(store, policy, items, report)


def import_photos(
    config: Config, store: Store, root: Path, *, author: str | None = None, clock: Clock = _utcnow
) -> ImportReport:
    """Import every photo under ``root``, with its caption; ``author`` is kept as a pseudonym."""
    items = read_photos(config, root, author=author, known=_known(store, PHOTOS), clock=clock)
    return _store_originals(store, author_policy(config), items, ImportReport("photos"))


# ---- twarc archives --------------------------------------------------------------------------------


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
    not_tagged: int = 0  # tweets without any of the configured hashtags (kept only with --all-tweets)
    bad_lines: int = 0
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"import twarc: {self.source}: {plural(self.lines, 'line')}, {plural(self.tweets, 'tweet')}, "
                f"{plural(self.new_posts, 'new post')}, {self.updated_posts} edited, "
                f"{plural(self.duplicates, 'duplicate')}, {self.erased} erased earlier, "
                f"{plural(self.retweets, 'retweet')} "
                f"({self.original_unavailable} without their original), {self.opted_out} opted out, "
                f"{plural(self.malformed, 'malformed tweet')}, {self.not_tagged} without the hashtags, "
                f"{plural(self.bad_lines, 'bad line')}")

    def add(self, page: TwarcPage) -> None:
        """Count what the harvester read for this page."""
        self.lines = max(self.lines, page.lines)
        self.tweets += page.counts["tweets"]
        self.retweets += page.counts["retweets"]
        self.opted_out += page.counts["opted_out"]
        self.original_unavailable += page.counts["original_unavailable"]
        self.malformed += page.counts["malformed"]
        self.not_tagged += page.counts[NOT_TAGGED]
        self.bad_lines += page.bad_lines
        self.problems.extend(page.problems[: MAX_PROBLEMS - len(self.problems)])


def import_twarc(
    store: Store,
    policy: AuthorPolicy,
    path: Path | str,
    *,
    batch_size: int = 500,
    clock: Clock = _utcnow,
    progress: Callable[[TwarcReport], None] | None = None,
    hashtags: Iterable[str] | None = None,
    max_line_bytes: int = MAX_LINE_BYTES,
) -> TwarcReport:
    """Import one twarc2 JSONL file (``-`` for stdin); commits every ``batch_size`` tweets. With
    ``hashtags``, only tweets carrying one of them are stored (the others are counted)."""
    report = TwarcReport(source=str(path))
    for page in read_twarc(path, batch_size=batch_size, clock=clock, hashtags=hashtags,
                           max_line_bytes=max_line_bytes):
        report.add(page)
        _save(store, policy, page.records, report, clock())
        if progress and not page.last:
            progress(report)
    return report


def import_twarc_files(
    config: Config, store: Store, paths: Sequence[Path | str], *, all_tweets: bool = False,
    clock: Clock = _utcnow,
) -> list[TwarcReport]:
    """Import twarc2 files in turn, keeping only tweets with a configured hashtag unless ``all_tweets``;
    SourceError before anything is stored when a file (not ``-``) is missing or is a folder."""
    missing = [str(p) for p in paths if str(p) != "-" and (not Path(p).exists() or Path(p).is_dir())]
    if missing:
        raise SourceError(f"no such archive file: {', '.join(missing)}", kind="file")
    hashtags = None if all_tweets else config.hashtags
    max_line_bytes = int(config.get("imports.max_line_bytes"))
    policy = author_policy(config)
    return [import_twarc(store, policy, path, clock=clock, hashtags=hashtags, max_line_bytes=max_line_bytes)
            for path in paths]


def twarc_total(reports: Sequence[TwarcReport]) -> TwarcReport:
    """The reports of several files added up (``source`` names how many files)."""
    total = TwarcReport(source=reports[0].source if len(reports) == 1 else f"{len(reports)} files")
    for report in reports:
        for name in ("lines", "tweets", "new_posts", "updated_posts", "duplicates", "erased", "opted_out",
                     "retweets", "original_unavailable", "malformed", "not_tagged", "bad_lines"):
            setattr(total, name, getattr(total, name) + getattr(report, name))
        total.problems.extend(report.problems)
    return total


def _save(store: Store, policy: AuthorPolicy, batch: list[PostRecord], report: TwarcReport,
          now: dt.datetime) -> None:
    """Store a batch in one transaction; a tweet already stored through the same copy, and not a newer
    edit, is counted without a write (archives repeat originals: every retweet carries one)."""
    if not batch:
        return
    with store.transaction() as conn:
        known = stored_edits(conn, TWITTER, {r.uri for r in batch})
        seen = stored_copies(conn, TWITTER, {r.native_id for r in batch})
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
