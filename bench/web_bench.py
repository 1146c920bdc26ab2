"""The public map under load: 100,000 verified sites, on SQLite or PostgreSQL.

Measures the server time of ``/api/sites?clusters=1`` (what the map asks) for a whole-city view
and a street-level view, the time until the public map page in headless Chromium has every site
of the view clustered (the server's grid counts for the whole city), and the memory (RSS) of the
one server process. Needs Debian's Chromium and Playwright.

    python bench/web_bench.py [--sites 100000] [--database-url postgresql://...]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hiljade.config import load_config  # noqa: E402
from hiljade.models.schema import Site  # noqa: E402
from hiljade.services.store import open_store  # noqa: E402
from tests.support.browser import browser, missing, recording_page, serving  # noqa: E402
from tests.support.cli import invoke  # noqa: E402
from tests.support.config import write_config  # noqa: E402

CITY = (20.30, 44.70, 20.60, 44.90)  # min lon, min lat, max lon, max lat: Belgrade's urban core
STREET = (20.4580, 44.8140, 20.4640, 44.8165)  # a few hundred metres around Terazije


def fill(config: Path, count: int, seed: int) -> None:
    """``count`` verified sites spread over the city (denser towards the centre)."""
    rng = random.Random(seed)
    store = open_store(load_config(config))
    now = dt.datetime.now(dt.UTC)
    table = Site.__table__
    with store.transaction() as conn:
        conn.execute(table.delete())
        batch = []
        for _ in range(count):
            lon = min(max(rng.gauss(20.46, 0.05), CITY[0]), CITY[2])
            lat = min(max(rng.gauss(44.81, 0.03), CITY[1]), CITY[3])
            batch.append({"lat": lat, "lon": lon, "status": "verified", "reports": 1,
                          "independent_reports": rng.randint(1, 5),
                          "camera_type": rng.choice(["dome", "bullet"]),
                          "camera_direction": rng.choice([None, rng.uniform(0, 360)]), "first_seen": now,
                          "last_seen": now, "verified_at": now, "created_at": now, "updated_at": now})
            if len(batch) == 5000:
                conn.execute(table.insert(), batch)
                batch = []
        if batch:
            conn.execute(table.insert(), batch)
    store.close()


def timed(url: str, runs: int = 5) -> tuple[float, int]:
    """The median seconds of ``runs`` GETs and the answer's size in bytes."""
    times, size = [], 0
    for _ in range(runs):
        start = time.perf_counter()
        with urllib.request.urlopen(url, timeout=120) as answer:
            size = len(answer.read())
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2], size


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=100_000)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--max-sites", type=int, default=5000, help="web.public.max_sites for the run")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if missing():
        sys.exit(f"cannot run: {missing()}")
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{folder}/bench.db"
        config = write_config(Path(folder), url, [], web__dev=True, web__public__max_sites=args.max_sites,
                              web__center=[44.81, 20.46, 12])
        assert invoke(["init"], config=config).exit_code == 0
        start = time.perf_counter()
        fill(config, args.sites, args.seed)
        print(f"stored {args.sites} sites in {time.perf_counter() - start:.1f} s on {url.split(':')[0]}")
        pids: list[int] = []
        with serving(config, pids=pids) as base:
            for name, box in (("city", CITY), ("street", STREET)):
                bbox = ",".join(f"{v:g}" for v in box)
                endpoint = f"{base}/api/sites?clusters=1&bbox={bbox}"
                seconds, size = timed(endpoint)
                with urllib.request.urlopen(endpoint, timeout=120) as answer:
                    body = json.load(answer)
                what = (f"{len(body['clusters'])} clusters of {body['total']} sites" if body["clusters"]
                        else f"{len(body['sites'])} sites")
                print(f"/api/sites?clusters=1 {name} view: {seconds * 1000:.0f} ms median, "
                      f"{size / 1e6:.3f} MB, {what}")
            with browser() as chromium, recording_page(chromium, base) as page:
                start = time.perf_counter()
                page.page.goto(base + "/")
                page.page.wait_for_selector("#map[data-sites]", timeout=120_000)
                page.page.wait_for_selector(".marker-cluster", timeout=120_000)
                ready = time.perf_counter() - start
                shown = page.page.get_attribute("#map", "data-sites")
                print(f"map page interactive with {shown} sites clustered: {ready:.2f} s")
            for pid in pids:
                print(f"server process {pid}: {rss_mib(pid):.0f} MiB resident")


if __name__ == "__main__":
    main()
