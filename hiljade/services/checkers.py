"""The platforms' answers to "does this post still exist?": one checker per platform, built from the
configuration (Mastodon statuses, X/Twitter lookups within the monthly budget)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from hiljade.errors import ConfigError, SourceError
from hiljade.models.ledger import twitter_reads_this_month
from hiljade.models.posts import is_home
from hiljade.models.store import Store
from hiljade.records import PostRecord
from hiljade.services.feeds import mastodon_feeds, twitter_feeds
from hiljade.services.harvest import failure_status, utcnow

log = logging.getLogger(__name__)
PRESENT, DELETED, UNCHECKED = "present", "deleted", "unchecked"

@dataclass(frozen=True)
class PostRef:
    """A stored post to recheck and every (server, native id) it was seen through."""

    post_id: int
    platform: str
    uri: str
    copies: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Check:
    """What the platform said about one post."""

    post_id: int
    server: str  # where it was asked ("" when there was nowhere to ask)
    outcome: str  # PRESENT, DELETED or UNCHECKED
    record: PostRecord | None = None
    reason: str = ""  # why DELETED or UNCHECKED
    kind: str = ""  # UNCHECKED: the failure family (auth_error, unavailable, rate_limited, error ...)
    requests: int = 0


class Checker(Protocol):
    """Asks one platform about a batch of its posts; one Check per ref, never raises SourceError."""

    def check(self, refs: Sequence[PostRef]) -> list[Check]: ...


def home_copy(ref: PostRef) -> tuple[str, str] | None:
    """The copy on the post's home server (the host and port of its uri), None when not seen there."""
    return next(((server, native_id) for server, native_id in ref.copies if is_home(server, ref.uri)), None)


def pick_copy(ref: PostRef) -> tuple[str, str] | None:
    """The copy to ask: the post's home server when we saw it there, else the first copy seen."""
    return home_copy(ref) or (ref.copies[0] if ref.copies else None)


class MastodonChecker:
    """``GET /api/v1/statuses/:id`` (``MastodonSource.status``) on the post's home server when it was
    seen there: its word counts alone. Otherwise every server that had the post is asked: the post is
    deleted only when each of them says so, present when one still has it, else unchecked."""

    def __init__(self, client_for: Callable[[str], Any]) -> None:
        self.client_for = client_for
        self._clients: dict[str, Any] = {}
        self._alive: dict[str, bool] = {}

    def _trusted(self, server: str, client: Any) -> bool:
        """Whether ``server``'s 404s mean deletions: asked once per server and run."""
        if server not in self._alive:
            self._alive[server] = client.speaks_mastodon()
        return self._alive[server]

    def check(self, refs: Sequence[PostRef]) -> list[Check]:
        out = []
        for ref in refs:
            home = home_copy(ref)
            asked = [home] if home is not None else list(ref.copies)
            if not asked:
                out.append(Check(ref.post_id, "", UNCHECKED, reason="no copy to ask", kind="error"))
                continue
            out.append(_combined([self._ask(ref.post_id, server, native_id) for server, native_id in asked]))
        return out

    def _ask(self, post_id: int, server: str, native_id: str) -> Check:
        if server not in self._clients:
            self._clients[server] = self.client_for(server)
        client = self._clients[server]
        before = client.total_requests
        try:
            record = client.status(native_id)
        except SourceError as exc:
            return Check(post_id, server, UNCHECKED, reason=str(exc), kind=failure_status(exc),
                         requests=client.total_requests - before)
        spent = client.total_requests - before
        if record is None and not self._trusted(server, client):
            reason = (f"{server} no longer answers as a fediverse server (no instance document, no "
                      "NodeInfo); its 404 is no deletion")
            return Check(post_id, server, UNCHECKED, kind="not_found", requests=spent, reason=reason)
        if record is None:
            return Check(post_id, server, DELETED, reason=f"{server} answers 404/410 for it", requests=spent)
        return Check(post_id, server, PRESENT, record=record, requests=spent)


def _combined(checks: Sequence[Check]) -> Check:
    """One verdict from the servers asked about a post: present when one has it, deleted when every
    one says so, else the first failure (a deletion some servers did not confirm is no deletion)."""
    spent = sum(c.requests for c in checks)
    if len(checks) == 1:
        return checks[0]
    present = next((c for c in checks if c.outcome == PRESENT), None)
    if present is not None:
        return replace(present, requests=spent)
    if all(c.outcome == DELETED for c in checks):
        servers = ", ".join(c.server for c in checks)
        reason = f"every server that had it answers 404/410 ({servers})"
        return replace(checks[0], reason=reason, requests=spent)
    failed = next(c for c in checks if c.outcome == UNCHECKED)
    deleted = [c.server for c in checks if c.outcome == DELETED]
    note = f"; only {', '.join(deleted)} answered 404/410, not every server that had it" if deleted else ""
    return replace(failed, reason=failed.reason + note, requests=spent)


class LookupChecker:
    """A batch lookup ``ids -> {id: record, or None when deleted}`` (X/Twitter); an id missing from
    the answer could not be checked, a SourceError leaves the whole batch unchecked."""

    def __init__(self, source: Any, server: str, *, budget: Callable[[], int] | None = None) -> None:
        self.source = source
        self.server = server
        self.budget = budget  # posts the platform still lets us read (X counts lookups in its cap)

    def check(self, refs: Sequence[PostRef]) -> list[Check]:
        wanted = {ref.post_id: pick_copy(ref) for ref in refs}
        ids = [c[1] for c in wanted.values() if c is not None]
        before = getattr(self.source, "total_requests", 0)
        found: Mapping[str, PostRecord | None] = {}
        error: SourceError | None = None
        left = self.budget() if self.budget is not None and ids else None
        if left is not None and left < len(ids):
            error = SourceError(f"{self.server}: {left} posts left in this month's budget, "
                                f"{len(ids)} to look up; next month", kind="budget_exhausted")
        elif ids:
            try:
                found = self.source.lookup(ids)
            except SourceError as exc:
                error = exc
        spent = getattr(self.source, "total_requests", 0) - before
        out = []
        for ref in refs:
            chosen = wanted[ref.post_id]
            cost, spent = spent, 0  # the batch's requests are booked on its first check
            if chosen is None or error is not None or chosen[1] not in found:
                reason = str(error) if error else "not in the answer (withheld, protected or no copy)"
                kind = "error" if error is None else failure_status(error)
                if error is not None and error.kind == "budget_exhausted":
                    kind = error.kind
                out.append(Check(ref.post_id, self.server, UNCHECKED, reason=reason, kind=kind,
                                 requests=cost))
            elif found[chosen[1]] is None:
                out.append(Check(ref.post_id, self.server, DELETED, reason="the API says it does not exist",
                                 requests=cost))
            else:
                out.append(Check(ref.post_id, self.server, PRESENT, record=found[chosen[1]], requests=cost))
        return out


def checkers_from_config(
    config: Any, store: Store, *, sleep: Callable[[float], None] | None = None
) -> tuple[dict[str, Checker], list[str]]:
    """The checkers this configuration allows, and a note for each platform left out."""
    pause = sleep or time.sleep
    def mastodon_client(server: str) -> Any:
        return mastodon_feeds(config, server=server, sleep=pause)[0].client

    checkers: dict[str, Checker] = {"mastodon": MastodonChecker(mastodon_client)}
    notes = []
    if config.get("sources.twitter.enabled"):
        try:
            client = twitter_feeds(config, sleep=pause)[0].client
            cap = int(config.get("sources.twitter.monthly_cap"))

            def budget() -> int:
                with store.connect() as conn:
                    return cap - twitter_reads_this_month(conn, client.server, utcnow())

            checkers["twitter"] = LookupChecker(client, client.server, budget=budget)
        except ConfigError as exc:
            notes.append(f"X/Twitter posts are not rechecked: {exc}")
    else:
        notes.append("X/Twitter posts are not rechecked: sources.twitter.enabled is false")
    for note in notes:
        log.info(note)
    return checkers, notes
