"""Harvest benchmark: a 10,000-status backfill from the local Mastodon stand-in, on SQLite and PostgreSQL.

Reports posts stored per second and HTTP requests per new post, through the real Mastodon.py
client and the same jobs the CLI runs (pacing off: min_interval_seconds 0).

    python bench/harvest_bench.py [--statuses 10000] [--pg postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from hiljade.config import load_config  # noqa: E402
from hiljade.services.feeds import harvest, mastodon_feeds  # noqa: E402
from hiljade.services.store import init, open_store  # noqa: E402
from tests.support.config import write_config  # noqa: E402
from tests.support.mastodon import make_statuses  # noqa: E402
from tests.support.mastodon_server import MastodonStandIn  # noqa: E402


def run(db_url: str, statuses: list[dict], workdir: Path) -> dict[str, float]:
    with MastodonStandIn(statuses, rate_limit=None) as server:
        config_path = write_config(workdir, db_url, [server.url])
        config = load_config(config_path)
        init(config)
        store = open_store(config)
        feeds = mastodon_feeds(config)
        start = time.perf_counter()
        report = harvest(config, store, feeds)
        elapsed = time.perf_counter() - start
        requests = len(server.requests)
        store.close()
    new = report.total("new_posts")
    return {
        "new_posts": new,
        "seconds": elapsed,
        "posts_per_second": new / elapsed,
        "http_requests": requests,
        "requests_per_new_post": requests / new,
        "pages": report.total("pages"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--statuses", type=int, default=10_000)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    statuses = make_statuses(args.statuses, seed=11)
    print(f"{len(statuses)} statuses generated", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        sqlite_dir = Path(tmp) / "sqlite"
        sqlite_dir.mkdir()
        results = {"sqlite": run(f"sqlite:///{sqlite_dir / 'bench.db'}", statuses, sqlite_dir)}
        import psycopg

        name = f"hiljade_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(args.pg, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        try:
            pg_dir = Path(tmp) / "pg"
            pg_dir.mkdir()
            results["postgresql"] = run(f"{args.pg.rsplit('/', 1)[0]}/{name}", statuses, pg_dir)
        finally:
            with psycopg.connect(args.pg, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    for store, r in results.items():
        print(
            f"{store:<10} {r['new_posts']:>6} new posts in {r['seconds']:6.1f} s "
            f"= {r['posts_per_second']:6.0f} posts/s; {r['http_requests']} HTTP requests "
            f"({r['pages']} pages) "
            f"= {r['requests_per_new_post']:.4f} requests/new post"
        )


if __name__ == "__main__":
    main()
