"""`hiljade status` and `hiljade stats`: every feed's last run from the ledger, and what needs a human.

One report (``Status``): post copies per source and server, the newest ledger row of every feed,
the X budget, the geocoder, the run lock and the warnings. `hiljade status` shows it as a table
with its warnings; `hiljade stats` is an older, shorter view of it (``stats_warnings``).

Feeds are the ``harvest_runs`` ledger's (source, server, hashtag) triples (``hiljade.models.ledger
.last_runs``), plus configured Mastodon feeds that never ran. Warnings, each with a ``kind``:

- ``failed``: the newest run(s) of a feed failed (``FAILED``), with how many in a row;
- ``unchecked``: the newest `hiljade recheck` run of a server could not check some of its posts
  (status ``partial``): their deletions and withdrawals are not honoured until a run can;
- ``skipped``: the newest run of a feed skipped posts it could not read or store (a malformed
  or unstorable status), counted in ``errors`` and described in its message;
- ``empty``: a feed that answered but has never returned a post (a server that closed its
  public hashtag feeds often looks like this);
- ``stuck``: a run still ``running`` long after it started (``STALE_RUNNING``);
- ``interrupted``: the newest run of a feed died (killed or crashed) before it finished; the next
  run that took the run lock marked it ``interrupted``. Every interrupted run of the last
  ``INTERRUPTED_SHOWN`` is listed below the table (and under ``interrupted`` in JSON), warning or not;
- ``silent``: no new post for ``sources.<source>.empty_feed_warning_days``;
- ``overdue``: an enabled source not harvested for 4 intervals (at least 6 hours): is
  `hiljade run` or cron still running?;
- ``never``: an enabled X/Twitter or Bluesky source with no run at all;
- ``twitter_cap``: posts read from X this calendar month (harvest and recheck, from the ledger)
  at ``cap_warning_share`` of ``sources.twitter.monthly_cap`` or more;
- ``geocoder_refused``: the newest geocoder row (written by `hiljade process`) says it
  refused us;
- ``geocoder_unavailable``: the newest geocoder row says it did not answer (no network, a timeout,
  a 5xx): the posts waiting for it (``waiting``) are asked about again by the next `hiljade process`;
- ``lock_held``: the run lock has been held longer than ``STALE_RUNNING``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import Connection, select

from hiljade.config import Config, normalize_api_url, parse_duration
from hiljade.errors import ConfigError
from hiljade.models.ledger import INTERRUPTED, interrupted_since, last_runs, twitter_reads_this_month
from hiljade.models.places import GAZETTEER_WAITING, GEOCODER_WAITING, waiting_posts
from hiljade.models.posts import copies_per_server, disagreeing_copies
from hiljade.models.runlock import Holder, lock_holder
from hiljade.models.schema import HarvestCursor, HarvestRun
from hiljade.models.store import Store
from hiljade.wording import plural, plural_with

FAILED = ("auth_error", "not_found", "rate_limited", "unavailable", "error")
STALE_RUNNING = dt.timedelta(hours=6)
INTERRUPTED_SHOWN = dt.timedelta(days=7)  # interrupted runs this recent are listed
SPECIAL = ("geocoder",)  # ledger sources that are not feeds
OVERDUE_FACTOR = 4
OVERDUE_MINIMUM = dt.timedelta(hours=6)


@dataclass(frozen=True)
class Alert:
    """Something that needs a human."""

    kind: str
    subject: str
    message: str


@dataclass
class Status:
    """The report: feeds (with their cursor's newest post and failures in a row), the geocoder's
    rows, the X budget, the lock and the warnings; ``posts`` and ``runs`` for `hiljade stats`."""

    feeds: list[dict[str, Any]] = field(default_factory=list)
    geocoder: list[dict[str, Any]] = field(default_factory=list)
    waiting: dict[str, int] = field(default_factory=dict)  # posts waiting for the geocoder, the gazetteer
    twitter: dict[str, Any] | None = None
    lock: Holder | None = None
    alerts: list[Alert] = field(default_factory=list)
    posts: list[dict[str, Any]] = field(default_factory=list)  # post copies per (platform, server)
    runs: list[dict[str, Any]] = field(default_factory=list)  # the newest ledger row of every feed
    interrupted: list[dict[str, Any]] = field(default_factory=list)  # runs that died, newest first

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (times as ISO strings)."""
        return _jsonable(
            {
                "feeds": self.feeds,
                "geocoder": self.geocoder,
                "waiting": self.waiting,
                "twitter": self.twitter,
                "lock": self.lock.as_dict() if self.lock else None,
                "interrupted": [
                    {k: row[k] for k in ("source", "server", "hashtag", "started_at", "error_message")}
                    for row in self.interrupted
                ],
                "warnings": [asdict(a) for a in self.alerts],
            }
        )


def collect_status(
    conn: Connection, config: Config, *, now: dt.datetime, lock: Holder | None = None
) -> Status:
    """The status of every feed, the X budget, the geocoder and the lock, with the warnings."""
    runs = last_runs(conn)
    status = Status(lock=lock, posts=copies_per_server(conn), runs=runs,
                    interrupted=interrupted_since(conn, now - INTERRUPTED_SHOWN))
    cursors = {
        (r.source, r.server, r.hashtag): r
        for r in conn.execute(select(HarvestCursor.__table__))
    }
    for run in runs:
        key = (run["source"], run["server"], run["hashtag"])
        if run["source"] in SPECIAL:
            status.geocoder.append(run)
            continue
        cursor = cursors.get(key)
        run = dict(run)
        run["last_post_at"] = cursor.last_post_at if cursor is not None else None
        run["failed_in_a_row"] = _failed_in_a_row(conn, *key)
        status.feeds.append(run)
        status.alerts.extend(_feed_alerts(run, config, now))
    seen = {(f["source"], f["server"], f["hashtag"]) for f in status.feeds}
    if config.get("sources.mastodon.enabled"):
        for server in config.mastodon_servers:
            for tag in config.hashtags:
                if ("mastodon", server.url, tag) not in seen:
                    status.feeds.append({"source": "mastodon", "server": server.url, "hashtag": tag,
                                         "status": "never run"})
    for source in ("twitter", "bluesky"):
        if config.get(f"sources.{source}.enabled") and not any(f["source"] == source for f in status.feeds):
            status.alerts.append(Alert("never", source, f"{source}: enabled but never harvested; run "
                                       f"`hiljade run` (or harvest it from cron)"))
    for row in disagreeing_copies(conn):
        copies = "1 post copy disagrees" if row["copies"] == 1 else f"{row['copies']} post copies disagree"
        status.alerts.append(Alert(
            "copies_disagree", row["server"],
            f"{row['platform']} {row['server']}: {copies} with the post as stored (another "
            "text, hashtags or media under the post's address); they are kept apart, not merged: "
            "`hiljade review show` names them"))
    status.twitter = _twitter(conn, config, now, status.alerts)
    status.waiting = waiting_posts(conn)
    waiting = status.waiting[GEOCODER_WAITING]
    for row in status.geocoder:
        if row["status"] == "refused":
            status.alerts.append(Alert(
                "geocoder_refused", row["server"],
                f"geocoder {row['server']} refused us at {row['started_at']:%Y-%m-%d %H:%M}Z: "
                f"{row['error_message']}; check geocoder.user_agent and the service's usage policy"))
        elif row["status"] == "unavailable":
            status.alerts.append(Alert(
                "geocoder_unavailable", row["server"],
                f"geocoder {row['server']} did not answer at {row['started_at']:%Y-%m-%d %H:%M}Z "
                f"({row['error_message']}); {plural_with(waiting, 'post', 'waits', 'wait')} for the "
                "geocoder, and the next `hiljade process` asks again"))
    if lock is not None and lock.since is not None and now - lock.since > STALE_RUNNING:
        status.alerts.append(Alert("lock_held", "run lock", f"the run lock is held {lock.describe()}: "
                                   "a stuck run blocks every harvest; check that process"))
    return status


def _failed_in_a_row(conn: Connection, source: str, server: str, hashtag: str) -> int:
    t = HarvestRun.__table__
    statuses = conn.execute(
        select(t.c.status)
        .where(t.c.source == source, t.c.server == server, t.c.hashtag == hashtag)
        .order_by(t.c.id.desc())
        .limit(50)
    ).scalars()
    count = 0
    for value in statuses:
        if value not in FAILED:
            break
        count += 1
    return count


def _feed_alerts(run: dict[str, Any], config: Config, now: dt.datetime) -> list[Alert]:
    source = run["source"]
    name = f"{source} {run['server']}" + (f" #{run['hashtag']}" if run["hashtag"] else "")
    alerts = []
    if run["status"] in FAILED:
        times = run["failed_in_a_row"]
        what = "the last run" if times == 1 else f"the last {times} runs in a row"
        said = f"{name}: {what} failed ({run['status']}): {run['error_message']}"
        alerts.append(Alert("failed", name, said))
    elif source == "recheck" and run.get("errors"):
        unchecked = plural(run["errors"], "post")
        alerts.append(Alert("unchecked", name, f"{name}: the last recheck could not check {unchecked}; their "
                                               "deletions wait until a recheck can ask: "
                                               f"{run['error_message']}"))
    elif run["status"] == "empty":
        alerts.append(Alert("empty", name, f"{name}: the feed answers but has never returned a post; is it "
                                           "still public on that server?"))
    elif run["status"] == INTERRUPTED:
        started = f"{run['started_at']:%Y-%m-%d %H:%M}Z"
        alerts.append(Alert("interrupted", name, f"{name}: the run started {started} was interrupted (killed "
                                                 "or crashed) before it finished; the next run resumes from "
                                                 "its cursor"))
    elif run["status"] != "running" and run.get("errors"):
        alerts.append(Alert("skipped", name, f"{name}: in the last run, {run['error_message']}"))
    elif run["status"] == "running" and now - run["started_at"] > STALE_RUNNING:
        alerts.append(Alert("stuck", name, f"{name}: a run started {run['started_at']:%Y-%m-%d %H:%M}Z never "
                                           "finished"))
    section = config.get(f"sources.{source}")
    if not isinstance(section, dict) or not section.get("enabled"):
        return alerts
    if source == "mastodon" and run["server"] not in {s.url for s in config.mastodon_servers}:
        return alerts  # a server taken out of the configuration
    days = section["empty_feed_warning_days"]
    newest = run.get("last_post_at")
    if newest is not None and now - newest > dt.timedelta(days=days):
        quiet = plural((now - newest).days, "day")
        alerts.append(Alert("silent", name, f"{name}: no new post for {quiet} (since "
                                            f"{newest:%Y-%m-%d}; sources.{source}.empty_feed_warning_days is "
                                            f"{days}); check that the feed still answers"))
    interval = dt.timedelta(seconds=parse_duration(section["interval"]))
    late = max(OVERDUE_FACTOR * interval, OVERDUE_MINIMUM)
    if now - run["started_at"] > late:
        alerts.append(Alert("overdue", name, f"{name}: not harvested since {run['started_at']:%Y-%m-%d %H:%M}"
                                             f"Z (sources.{source}.interval is {section.get('interval')}); "
                                             "is `hiljade run` or cron still running?"))
    return alerts


def _twitter(
    conn: Connection, config: Config, now: dt.datetime, alerts: list[Alert]
) -> dict[str, Any] | None:
    t = HarvestRun.__table__
    used_before = conn.execute(select(t.c.id).where(t.c.source == "twitter").limit(1)).first()
    if not config.get("sources.twitter.enabled") and used_before is None:
        return None
    server = str(config.get("sources.twitter.api_url")).rstrip("/")
    with contextlib.suppress(ConfigError):  # not an http(s) URL: the configured URL as written
        server = normalize_api_url(server)
    cap = int(config.get("sources.twitter.monthly_cap"))
    share = float(config.get("sources.twitter.cap_warning_share"))
    read = twitter_reads_this_month(conn, server, now)
    since = dt.datetime(now.year, now.month, 1, tzinfo=dt.UTC)
    info = {"read_this_month": read, "monthly_cap": cap, "warning_share": share, "since": since}
    if config.get("sources.twitter.enabled") and cap > 0 and read >= cap * share:
        used = "used up" if read >= cap else f"{read / cap:.0%} used"
        alerts.append(Alert("twitter_cap", "twitter",
                            f"X/Twitter: {read} of sources.twitter.monthly_cap={cap} posts read since "
                            f"{since:%Y-%m-%d} ({used}); harvesting stops at the cap until next month"))
    return info


def status_report(config: Config, store: Store, *, now: dt.datetime | None = None) -> Status:
    """The report of `hiljade status` and `hiljade stats`, with the run lock's holder."""
    holder = lock_holder(config.database_url)
    with store.connect() as conn:
        return collect_status(conn, config, now=now or dt.datetime.now(dt.UTC), lock=holder)


def feed_name(feed: dict[str, Any]) -> str:
    """A feed as people read it: ``mastodon https://server #tag`` (no ``#`` without a hashtag)."""
    return f"{feed['source']} {feed['server'] or '-'}" + (f" #{feed['hashtag']}" if feed["hashtag"] else "")


def stats_warnings(status: Status, *, now: dt.datetime, quiet_days: int) -> list[str]:
    """The warnings of `hiljade stats`: failed, empty and stuck feeds, and feeds quiet for ``quiet_days``."""
    last_post = {(f["source"], f["server"], f["hashtag"]): f.get("last_post_at") for f in status.feeds}
    warnings = []
    for run in status.runs:
        name = feed_name(run)
        state = run["status"]
        if state in FAILED:
            warnings.append(f"{name}: last run failed ({state}): {run['error_message']}")
        elif state == "empty":
            warnings.append(f"{name}: the tag feed returned nothing at all; is it public on that server?")
        elif state == INTERRUPTED:
            warnings.append(f"{name}: the run started {run['started_at']:%Y-%m-%d %H:%M} was interrupted "
                            "(killed or crashed) before it finished")
        elif state == "running" and now - run["started_at"] > STALE_RUNNING:
            warnings.append(f"{name}: a run started {run['started_at']:%Y-%m-%d %H:%M} never finished")
        newest = last_post.get((run["source"], run["server"], run["hashtag"]))
        if newest is not None and now - newest > dt.timedelta(days=quiet_days):
            warnings.append(
                f"{name}: no new post for {plural((now - newest).days, 'day')} (since {newest:%Y-%m-%d}); "
                "check that the feed still answers"
            )
    return warnings


COLUMNS = (
    ("source", 9), ("server", 34), ("hashtag", 15), ("last run", 17), ("status", 16), ("new", 6),
    ("edited", 6), ("errors", 6), ("waits", 5), ("cursor", 20), ("last post", 10),
)


def table_lines(status: Status) -> list[str]:
    """The status as a plain text table and a few lines below it."""
    lines = ["  ".join(name.ljust(width) for name, width in COLUMNS).rstrip()]
    for feed in status.feeds:
        started, last_post = feed.get("started_at"), feed.get("last_post_at")
        cells = (
            feed["source"], feed["server"] or "-", feed["hashtag"] or "-",
            f"{started:%Y-%m-%d %H:%M}" if started else "never", feed["status"],
            feed.get("new_posts", ""), feed.get("updated_posts", ""), feed.get("errors", ""),
            feed.get("rate_limit_waits", ""), feed.get("cursor_after") or "-",
            f"{last_post:%Y-%m-%d}" if last_post else "-",
        )
        lines.append("  ".join(str(v).ljust(w) for v, (_, w) in zip(cells, COLUMNS, strict=True)).rstrip())
    if status.twitter:
        tw = status.twitter
        cap = f" of {tw['monthly_cap']}" if tw["monthly_cap"] else ""
        lines.append(f"X/Twitter: {tw['read_this_month']}{cap} posts read since {tw['since']:%Y-%m-%d}")
    for row in status.geocoder:
        note = f": {row['error_message']}" if row["status"] in ("refused", "unavailable") else ""
        lines.append(f"geocoder {row['server']}: {row['status']} at {row['started_at']:%Y-%m-%d %H:%M}Z, "
                     f"{row['requests']} requests{note}")
    for row in status.interrupted:
        tag = f" #{row['hashtag']}" if row["hashtag"] else ""
        lines.append(f"interrupted: {row['source']} {row['server']}{tag}: the run started "
                     f"{row['started_at']:%Y-%m-%d %H:%M}Z ended before it finished (killed or crashed)")
    for outcome, what in ((GEOCODER_WAITING, "the geocoder"), (GAZETTEER_WAITING, "a gazetteer")):
        if status.waiting.get(outcome):
            lines.append(f"posts waiting for {what}: {status.waiting[outcome]}")
    lines.append(f"run lock: held {status.lock.describe()}" if status.lock else "run lock: free")
    return lines


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value
