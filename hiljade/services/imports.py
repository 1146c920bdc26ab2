"""Imports of twarc archives, mail and photo folders: the harvester reads, this stores and counts.

twarc pages commit one transaction each; a message or a photo is one transaction. A post already
stored is counted ``known`` (or a duplicate) and, for mail and photos, not read further.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hiljade.config import Config
from hiljade.harvester.mail import PLATFORM as MAIL
from hiljade.harvester.mail import detect_container, read_mail
from hiljade.harvester.photos import PLATFORM as PHOTOS
from hiljade.harvester.photos import ImageCheck, Original, read_photos
from hiljade.harvester.twarc import MAX_PROBLEMS, TwarcPage, read_twarc
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
    container: str = ""

    def summary(self) -> str:
        refused = sum(self.refused.values())
        reasons = ", ".join(f"{reason} {n}" for reason, n in sorted(self.refused.items()))
        refused_text = f"; refused {refused}: {reasons}" if refused else "; refused 0"
        if self.kind == "mail":
            return (
                f"import mail: {self.items} messages ({self.container or 'none'}): {self.imported} imported, "
                f"{self.known} already known, {self.unreadable} unreadable; {self.photos} photos accepted, "
                f"{self.located} with GPS{refused_text.replace('refused', 'refused attachments', 1)}"
            )
        return (
            f"import photos: {self.items} files: {self.imported} imported "
            f"({self.imported - self.located} without GPS), {self.known} already known{refused_text}"
        )

    def add(self, item: Original, outcome: str | None) -> None:
        """Count one item read and, when it had a post, what storing it did."""
        self.items += 1
        self.known += item.known
        self.unreadable += item.unreadable
        self.refused.update(item.refused)
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
    items = read_mail(path, container, check, known=_known(store, MAIL), clock=clock)
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
    bad_lines: int = 0
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"import twarc: {self.source}: {self.lines} lines, {self.tweets} tweets, "
                f"{self.new_posts} new posts, {self.updated_posts} edited, {self.duplicates} duplicates, "
                f"{self.erased} erased earlier, "
                f"{self.retweets} retweets "
                f"({self.original_unavailable} without their original), {self.opted_out} opted out, "
                f"{self.malformed} malformed tweets, {self.bad_lines} bad lines")

    def add(self, page: TwarcPage) -> None:
        """Count what the harvester read for this page."""
        self.lines = max(self.lines, page.lines)
        self.tweets += page.counts["tweets"]
        self.retweets += page.counts["retweets"]
        self.opted_out += page.counts["opted_out"]
        self.original_unavailable += page.counts["original_unavailable"]
        self.malformed += page.counts["malformed"]
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
) -> TwarcReport:
    """Import one twarc2 JSONL file (``-`` for stdin); commits every ``batch_size`` tweets."""
    report = TwarcReport(source=str(path))
    for page in read_twarc(path, batch_size=batch_size, clock=clock):
        report.add(page)
        _save(store, policy, page.records, report, clock())
        if progress and not page.last:
            progress(report)
    return report


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
