"""Harvest benchmark: a Mastodon backfill from the local stand-in, hiljade's path against the old one.

hiljade's path asks timeline pages as plain JSON through its one HTTP session and writes each page's
new posts in multi-row statements; the peer is the old path, Mastodon.py's typed pages and the posts
written one by one (``MastodonSource(typed_pages=True)``, ``Harvester(batch_writes=False)``). Both
harvest the same statuses into a fresh database with pacing off (min_interval_seconds 0), in
alternating rounds; the medians of posts stored per second are compared. SQLite by default; --pg
adds the same on PostgreSQL (lines before the last).

    python bench/harvest_bench.py [--statuses 4000] [--rounds 3] [--pg [postgresql://...]]

The last line: ``harvest: hiljade X posts/s, mastodon.py typed Y posts/s, ratio R.RRx, N statuses``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from hiljade.config import load_config  # noqa: E402
from hiljade.services.feeds import mastodon_feeds, mastodon_paging  # noqa: E402
from hiljade.services.harvest import Harvester  # noqa: E402
from hiljade.services.store import author_policy, init, open_store  # noqa: E402
from tests.support.config import write_config  # noqa: E402
from tests.support.mastodon import make_statuses  # noqa: E402
from tests.support.mastodon_server import MastodonStandIn  # noqa: E402

PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"
PATHS = ("hiljade", "typed")


def run(path: str, db_url: str, server: MastodonStandIn, workdir: Path) -> dict[str, float]:
    """One backfill of everything the stand-in holds into a fresh database, by ``path``."""
    config = load_config(write_config(workdir, db_url, [server.url], sources__mastodon__max_pages_per_run=0))
    init(config)
    store = open_store(config)
    typed = path == "typed"
    feeds = mastodon_feeds(config)
    for feed in feeds:
        feed.client.typed_pages = typed
    harvester = Harvester(store, author_policy(config), mastodon_paging(config), campaign=config.hashtags,
                          batch_writes=not typed)
    asked = len(server.requests)
    start = time.perf_counter()
    results = harvester.harvest(feeds)
    elapsed = time.perf_counter() - start
    for feed in feeds:
        feed.client.close()
    store.close()
    bad = [r for r in results if r.status != "ok"]
    if bad:
        raise SystemExit(f"{path}: the harvest ended {bad[0].status}: {bad[0].message}")
    new = sum(r.counts.get("new_posts", 0) for r in results)
    return {"new_posts": new, "seconds": elapsed, "posts_per_second": new / elapsed,
            "requests": len(server.requests) - asked}


@contextmanager
def sqlite_databases(tmp: Path) -> Iterator[Callable[[], str]]:
    count = iter(range(1_000_000))
    yield lambda: f"sqlite:///{tmp / f'bench{next(count)}.db'}"


@contextmanager
def pg_databases(admin_url: str) -> Iterator[Callable[[], str]]:
    import psycopg  # deferred: only --pg needs it

    made: list[str] = []

    def fresh() -> str:
        name = f"hiljade_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        made.append(name)
        return f"{admin_url.rsplit('/', 1)[0]}/{name}"

    try:
        yield fresh
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            for name in made:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def compare(name: str, databases: Callable[[], str], server: MastodonStandIn, rounds: int,
            tmp: Path) -> tuple[float, float, int]:
    """Medians of posts/s of both paths over ``rounds`` alternating rounds; (hiljade, typed, new posts)."""
    speeds: dict[str, list[float]] = {path: [] for path in PATHS}
    stored: set[float] = set()
    for number in range(rounds):
        order = PATHS if number % 2 == 0 else PATHS[::-1]
        for path in order:
            workdir = tmp / f"{name}-{number}-{path}"
            workdir.mkdir()
            result = run(path, databases(), server, workdir)
            speeds[path].append(result["posts_per_second"])
            stored.add(result["new_posts"])
            print(f"{name:<10} round {number + 1} {path:<8} {result['new_posts']:>6.0f} new posts in "
                  f"{result['seconds']:6.2f} s = {result['posts_per_second']:6.0f} posts/s, "
                  f"{result['requests']:.0f} requests", file=sys.stderr)
    if len(stored) != 1:
        raise SystemExit(f"{name}: the paths stored different numbers of posts: {sorted(stored)}")
    return statistics.median(speeds["hiljade"]), statistics.median(speeds["typed"]), int(stored.pop())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--statuses", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pg", nargs="?", const=PG_DEFAULT, default=None,
                        help=f"also on PostgreSQL (admin URL, default {PG_DEFAULT})")
    args = parser.parse_args()
    statuses = make_statuses(args.statuses, seed=11)
    lines = []
    with tempfile.TemporaryDirectory() as tmp, MastodonStandIn(statuses, rate_limit=None) as server:
        if args.pg:
            with pg_databases(args.pg) as databases:
                fast, typed, new = compare("postgresql", databases, server, args.rounds, Path(tmp))
            lines.append(f"harvest (postgresql): hiljade {fast:.0f} posts/s, mastodon.py typed {typed:.0f} "
                         f"posts/s, ratio {fast / typed:.2f}x, {len(statuses)} statuses, {new} new posts")
        with sqlite_databases(Path(tmp)) as databases:
            fast, typed, new = compare("sqlite", databases, server, args.rounds, Path(tmp))
    print(f"{new} new posts stored by each path from {len(statuses)} statuses (the others: opted out, or "
          f"boosts, which a tag feed does not list)")
    for line in lines:
        print(line)
    print(f"harvest: hiljade {fast:.0f} posts/s, mastodon.py typed {typed:.0f} posts/s, "
          f"ratio {fast / typed:.2f}x, {len(statuses)} statuses")


if __name__ == "__main__":
    main()
