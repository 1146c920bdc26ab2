"""`hiljade recheck`: ask each stored post's platform whether it still exists; honour deletions and edits.

Posts are taken oldest ``checked_at`` first (never checked before all), only when older than
``recheck.min_age`` and not checked within ``recheck.every``, ``recheck.batch_size`` at a time.
Each batch holds the run lock while it asks and writes, so a harvest waits at most one batch.

Verdicts: a status the server answers 404/410 for is *deleted* and erased (``hiljade.models.erasure``):
the post's home server (the host of its uri) is asked when it was seen there, and its word alone
counts; otherwise every server that had the post is asked, and all must answer 404/410 (see
``services.checkers.MastodonChecker``);
one whose author has since opted out is erased too; a newer ``edited_at`` updates the text through
``save_post`` (the earlier text is kept as a version), unless the edit removed every campaign
hashtag (``hashtags``): then the author has *withdrawn* the post and it is erased like a deletion;
anything else that answers is *unchanged*. A 401, 403, 429, timeout, 5xx, a broken answer, or a
404 from a server that no longer answers as a fediverse server means *could not check*: nothing
is written for that post and the next run asks again.

The ledger gets one ``harvest_runs`` row per run and server (source ``recheck``, hashtag ``""``):
``pages`` = batches, ``requests``, ``updated_posts`` = edits, ``duplicates`` = unchanged,
``opted_out`` = erased because the author opted out, ``erased_posts`` = deleted on the platform or
withdrawn by an edit, and erased here, ``errors`` = could not check, and ``error_message`` = the
tally in words ("3 deleted and erased, ..."). The row's status is ``ok`` when every post was
checked, ``partial`` when some could not be (`hiljade status` warns), and the failure's kind when
none could. Each erasure also has its
``review_log`` row (action ``erase``, reviewer ``recheck``, ``details.run_id``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, or_, select, update

from hiljade.config import Config, parse_duration
from hiljade.errors import LockBusy
from hiljade.models.erasure import erase_post
from hiljade.models.ledger import Cursor, add_to_run, finish_run, start_run
from hiljade.models.posts import UPDATED, WITHDRAWN, AuthorPolicy
from hiljade.models.schema import Post, PostCopy
from hiljade.models.store import Store
from hiljade.services.checkers import DELETED, UNCHECKED, Check, Checker, PostRef
from hiljade.services.harvest import store_post, utcnow
from hiljade.services.process import geocoder_cache_prefix
from hiljade.services.store import author_policy
from hiljade.wording import plural

log = logging.getLogger(__name__)
SOURCE = "recheck"


@dataclass
class RecheckReport:
    """What a recheck run did."""

    counts: Counter[str] = field(default_factory=Counter)
    batches: int = 0
    requests: int = 0
    busy: str | None = None  # the LockBusy message when another run held the lock
    stopped: bool = False
    notes: list[str] = field(default_factory=list)  # platforms not rechecked, and why

    def summary(self) -> str:
        c = self.counts
        text = (
            f"recheck: {plural(c['checked'], 'post')} in {plural(self.batches, 'batch', 'batches')} "
            f"({plural(self.requests, 'request')}): "
            f"{c['deleted']} deleted and erased, {c['opted_out']} opted out and erased, {_withdrawn(c)}"
            f"{c['edited']} edited, {c['unchanged']} unchanged, {c['unchecked']} could not be checked"
        )
        if self.stopped:
            text += "; stopped on request"
        return text


_NO_LOCK: Callable[[], contextlib.AbstractContextManager[Any]] = contextlib.nullcontext


class Rechecker:
    """Rechecks due posts against their platforms and writes what it learns (see the module docstring)."""

    def __init__(
        self,
        store: Store,
        policy: AuthorPolicy,
        checkers: Mapping[str, Checker],
        *,
        batch_size: int = 100,
        min_age: dt.timedelta = dt.timedelta(days=1),
        every: dt.timedelta = dt.timedelta(days=7),
        lock: Callable[[], contextlib.AbstractContextManager[Any]] = _NO_LOCK,
        clock: Callable[[], dt.datetime] = utcnow,
        should_stop: Callable[[], bool] | None = None,
        campaign: Sequence[str] = (),
    ) -> None:
        self.store, self.policy, self.checkers = store, policy, dict(checkers)
        self.campaign = tuple(campaign)  # the configured hashtags: an edit that drops them all withdraws
        self.batch_size, self.min_age, self.every = batch_size, min_age, every
        self.lock, self.clock, self.should_stop = lock, clock, should_stop
        self.run_id = str(uuid.uuid4())
        self.report = RecheckReport()
        self._rows: dict[str, int] = {}  # server -> ledger row of this run
        self._tally: dict[str, Counter[str]] = {}
        self._failures: dict[str, Counter[str]] = {}
        self._first_failure: dict[str, str] = {}

    def _due(self, now: dt.datetime) -> Any:
        p = Post.__table__
        return (
            p.c.deleted_at.is_(None),
            p.c.platform.in_(sorted(self.checkers)),
            p.c.created_at <= now - self.min_age,
            or_(p.c.checked_at.is_(None), p.c.checked_at <= now - self.every),
        )

    def due_ids(self) -> list[int]:
        """Ids of the posts due for a recheck, in the order they will be asked."""
        if not self.checkers:
            return []
        p = Post.__table__
        query = (
            select(p.c.id)
            .where(*self._due(self.clock()))
            .order_by(p.c.checked_at.is_not(None), p.c.checked_at, p.c.id)
        )
        with self.store.connect() as conn:
            return list(conn.execute(query).scalars())

    def run(self, *, max_batches: int = 0) -> RecheckReport:
        """Recheck every due post (or ``max_batches`` batches); stops on ``should_stop`` or a busy lock."""
        ids = self.due_ids()
        if not ids:
            try:
                with self.lock(), self.store.transaction() as conn:
                    self._record(conn, "", Counter(), self.clock(), note="nothing was due for a recheck")
            except LockBusy as exc:
                self.report.busy = str(exc)
            return self.report
        chunks = [ids[i : i + self.batch_size] for i in range(0, len(ids), self.batch_size)]
        for number, chunk in enumerate(chunks):
            if max_batches and number >= max_batches:
                break
            if self.should_stop is not None and self.should_stop():
                self.report.stopped = True
                break
            try:
                with self.lock():
                    self._batch(chunk)
            except LockBusy as exc:
                self.report.busy = str(exc)
                break
        return self.report

    def _batch(self, chunk: Sequence[int]) -> None:
        with self.store.connect() as conn:
            refs = _refs(conn, chunk, self._due(self.clock()))
        if not refs:  # another run checked them meanwhile
            return
        checks: list[Check] = []
        for platform in sorted({r.platform for r in refs}):
            checks.extend(self.checkers[platform].check([r for r in refs if r.platform == platform]))
        by_id = {r.post_id: r for r in refs}
        tallies: dict[str, Counter[str]] = {}
        now = self.clock()
        with self.store.transaction() as conn:
            for check in checks:
                outcome, kind, reason = self._apply(conn, check, by_id[check.post_id], now)
                tally = tallies.setdefault(check.server, Counter())
                tally[outcome] += 1
                tally["checked"] += 1
                tally["requests"] += check.requests
                if outcome == "unchecked":
                    log.info("post %s: could not check on %s: %s", check.post_id, check.server, reason)
                    self._failures.setdefault(check.server, Counter())[kind] += 1
                    self._first_failure.setdefault(check.server, reason)
            for server, tally in tallies.items():
                self._record(conn, server, tally, now)
        self.report.batches += 1
        for tally in tallies.values():
            self.report.requests += tally.pop("requests", 0)
            self.report.counts.update(tally)

    def _apply(self, conn: Connection, check: Check, ref: PostRef, now: dt.datetime) -> tuple[str, str, str]:
        """Write what ``check`` says; returns (outcome, failure kind, reason)."""
        if check.outcome == UNCHECKED:
            return "unchecked", check.kind or "error", check.reason
        details = {"run_id": self.run_id, "checked_on": check.server}
        if check.outcome == DELETED:
            erase_post(conn, ref.post_id, self.policy.secret, now, cache_prefix=geocoder_cache_prefix,
                       reason=f"deleted at the source: {check.reason}", details=details)
            return "deleted", "", ""
        record = check.record
        assert record is not None
        if record.author is not None and record.author.opt_out:
            erase_post(conn, ref.post_id, self.policy.secret, now, cache_prefix=geocoder_cache_prefix,
                       reason=f"the author opted out ({record.author.opt_out})", details=details)
            return "opted_out", "", ""
        if record.uri != ref.uri:  # the server answered with another post: trust nothing
            return "unchecked", "error", f"{check.server} answered with a different post"
        outcome = store_post(conn, record, self.policy, now, campaign=self.campaign, reviewer="recheck",
                             details=details)
        if outcome == WITHDRAWN:
            return "withdrawn", "", ""
        p = Post.__table__
        conn.execute(update(p).where(p.c.id == ref.post_id).values(checked_at=now))
        return ("edited" if outcome == UPDATED else "unchanged"), "", ""

    def _record(self, conn: Connection, server: str, tally: Counter[str], now: dt.datetime,
                note: str | None = None) -> None:
        """Add a batch to this run's ledger row for ``server`` and bring its status and tally up to date."""
        if server not in self._rows:
            self._rows[server] = start_run(conn, self.run_id, Cursor(SOURCE, server, ""), now)
        row = self._rows[server]
        total = self._tally.setdefault(server, Counter())
        total.update(tally)
        add_to_run(conn, row, pages=1 if tally else 0, requests=tally["requests"],
                   updated_posts=tally["edited"], duplicates=tally["unchanged"],
                   opted_out=tally["opted_out"], erased_posts=tally["deleted"] + tally["withdrawn"],
                   errors=tally["unchecked"])
        failures = self._failures.get(server, Counter())
        answered = total["checked"] - total["unchecked"]
        status = (failures.most_common(1)[0][0] if not answered else "partial") if failures else "ok"
        message = note or (
            f"{total['checked']} checked: {total['deleted']} deleted and erased, "
            f"{total['opted_out']} opted out and erased, {_withdrawn(total)}{total['edited']} edited, "
            f"{total['unchanged']} unchanged, {total['unchecked']} could not be checked"
        )
        if server in self._first_failure:
            message += f" (first failure: {self._first_failure[server][:300]})"
        finish_run(conn, row, status, now, message=message)


def _withdrawn(counts: Counter[str]) -> str:
    """The words for posts withdrawn by an edit that removed the campaign hashtag (none: no words)."""
    return f"{counts['withdrawn']} withdrawn by their authors and erased, " if counts["withdrawn"] else ""


def _refs(conn: Connection, ids: Sequence[int], due: Any) -> list[PostRef]:
    """The posts among ``ids`` still due (another run may have checked or erased some meanwhile)."""
    p, c = Post.__table__, PostCopy.__table__
    rows = conn.execute(select(p.c.id, p.c.platform, p.c.uri).where(p.c.id.in_(list(ids)), *due)).all()
    copies: dict[int, list[tuple[str, str]]] = {}
    for post_id, server, native_id in conn.execute(
        select(c.c.post_id, c.c.server, c.c.native_id).where(c.c.post_id.in_(list(ids))).order_by(c.c.id)
    ):
        copies.setdefault(post_id, []).append((server, native_id))
    order = {post_id: n for n, post_id in enumerate(ids)}
    refs = [PostRef(r.id, r.platform, r.uri, tuple(copies.get(r.id, ()))) for r in rows]
    return sorted(refs, key=lambda r: order[r.post_id])


def rechecker_from_config(
    config: Config,
    store: Store,
    checkers: Mapping[str, Checker],
    *,
    lock: Callable[[], contextlib.AbstractContextManager[Any]],
    should_stop: Callable[[], bool] | None = None,
) -> Rechecker:
    """A Rechecker with the `recheck` settings: batch size, minimum age, how often a post is asked."""
    return Rechecker(
        store,
        author_policy(config),
        checkers,
        batch_size=config.get("recheck.batch_size"),
        min_age=dt.timedelta(seconds=parse_duration(config.get("recheck.min_age"))),
        every=dt.timedelta(seconds=parse_duration(config.get("recheck.every"))),
        lock=lock,
        should_stop=should_stop,
        campaign=config.hashtags,
    )
