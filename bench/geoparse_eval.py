"""Geoparser benchmark: build the gazetteer, run ``locate`` over the dev set, score it, time it.

Usage: python bench/geoparse_eval.py [DATA_FILES_OR_DIR ...] [--eval PATH] [--out DIR] [--posts N]
       [--workers N] [--rounds N] [--local-names FILE_OR_NAME ...]
Defaults: ../shared/data/belgrade_geo and ../shared/eval/geoparse-dev.jsonl next to the repo, and the
local names hiljade ships for Belgrade (``--local-names`` with nothing after it: none).
Writes predictions to a temporary directory (never into shared/) and prints the scorer's table,
the gazetteer build time and peak memory, posts/second of ``locate`` over N texts on several
processes, and last, ``locate`` on one core against its peer, a bare Aho-Corasick scan with the
gazetteer's name keys over the same texts already folded (rounds in turn, medians):
``locate: hiljade X texts/s, aho-corasick scan Y texts/s, ratio R.RRx``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import ahocorasick

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from hiljade import compiled  # noqa: E402
from hiljade.harvester.osm_files import read_area, read_local_names, read_osm_files  # noqa: E402
from hiljade.pipeline.gazetteer import Gazetteer  # noqa: E402
from hiljade.pipeline.gazetteer_build import build_gazetteer  # noqa: E402
from hiljade.pipeline.local_names import add_local_names  # noqa: E402
from hiljade.pipeline.locate import locate  # noqa: E402
from hiljade.pipeline.scripts import fold  # noqa: E402

SHARED = REPO.parent / "shared"
DATA_SUFFIXES = (".geojson", ".osm", ".osm.pbf", ".pbf", ".csv", ".txt")
BOUNDARY_HINT = "boundary"


def data_files(args: list[str]) -> tuple[list[Path], Path | None]:
    """Gazetteer inputs and the boundary file from the arguments (files or folders)."""
    paths: list[Path] = []
    for arg in args or [str(SHARED / "data" / "belgrade_geo")]:
        p = Path(arg)
        paths += sorted(q for q in p.iterdir() if q.name.endswith(DATA_SUFFIXES)) if p.is_dir() else [p]
    boundary = next((p for p in paths if BOUNDARY_HINT in p.name), None)
    return [p for p in paths if p != boundary], boundary


_GAZ: Gazetteer | None = None


def _init_worker(rows: list[dict]) -> None:
    global _GAZ
    _GAZ = Gazetteer.from_rows(rows)


def _locate_many(texts: list[str]) -> int:
    assert _GAZ is not None
    return sum(locate(t, _GAZ).chosen is not None for t in texts)


def speed(gaz: Gazetteer, texts: list[str], posts: int, workers: int) -> float:
    """Posts per second of ``locate`` over ``posts`` texts (the eval texts repeated)."""
    batch = [texts[n % len(texts)] for n in range(posts)]
    start = time.perf_counter()
    if workers <= 1:
        for text in batch:
            locate(text, gaz)
    else:
        chunks = [batch[i : i + 2000] for i in range(0, len(batch), 2000)]
        with multiprocessing.Pool(workers, initializer=_init_worker, initargs=(gaz.to_rows(),)) as pool:
            start = time.perf_counter()  # workers are up: time the work, not the start-up
            sum(pool.map(_locate_many, chunks))
    return posts / (time.perf_counter() - start)


def scan_peer(gaz: Gazetteer) -> Callable[[list[str]], int]:
    """The peer: a bare pyahocorasick scan, with the gazetteer's name keys as patterns, over texts
    already normalised (folded); how many keys it finds."""
    automaton = ahocorasick.Automaton()
    for key in sorted(gaz.name_keys):
        automaton.add_word(key, key)
    automaton.make_automaton()

    def scan(folded: list[str]) -> int:
        return sum(1 for text in folded for _ in automaton.iter(text))

    return scan


def race(gaz: Gazetteer, texts: list[str], posts: int, rounds: int = 7) -> tuple[float, float]:
    """Texts per second on one core of ``locate`` and of the bare scan (``scan_peer``) over the dev
    texts repeated to ``posts`` a round: rounds of the two in turn, the median round of each."""
    batch = [texts[n % len(texts)] for n in range(max(1, posts // rounds))]
    folded = [fold(text) for text in batch]
    scan = scan_peer(gaz)
    for text in texts:  # both warm: the word caches, the gazetteer's remembered answers
        locate(text, gaz)
    scan(folded)
    ours, peer = [], []
    for _ in range(rounds):
        start = time.perf_counter()
        for text in batch:
            locate(text, gaz)
        ours.append(len(batch) / (time.perf_counter() - start))
        start = time.perf_counter()
        scan(folded)
        peer.append(len(batch) / (time.perf_counter() - start))
    return statistics.median(ours), statistics.median(peer)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", nargs="*")
    ap.add_argument("--eval", default=str(SHARED / "eval" / "geoparse-dev.jsonl"))
    ap.add_argument("--out", default=None, help="folder for predictions (default: a new temp folder)")
    ap.add_argument("--posts", type=int, default=100_000, help="texts for the speed test (0: skip)")
    ap.add_argument("--workers", type=int, default=2, help="processes for the speed test on several cores")
    ap.add_argument("--rounds", type=int, default=7, help="rounds of locate and the bare scan in turn")
    ap.add_argument(
        "--local-names", nargs="*", default=["belgrade"], help="local-names files (default: belgrade)"
    )
    args = ap.parse_args(argv)
    files, boundary = data_files(args.data)
    t0 = time.perf_counter()
    area = read_area(boundary) if boundary else None
    gaz, unused = add_local_names(
        build_gazetteer(read_osm_files(files), area=area), read_local_names(args.local_names)
    )
    build_s = time.perf_counter() - t0
    tracemalloc.start()
    build_gazetteer(read_osm_files(files), area=area)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rows = gaz.to_rows()
    t0 = time.perf_counter()
    gaz = Gazetteer.from_rows(json.loads(json.dumps(rows)))
    load_s = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"gazetteer: {len(files)} files, {gaz.counts()}")
    if args.local_names:
        print(f"local names: {', '.join(args.local_names)}; {len(unused)} of them name places the data lacks")
    print(
        f"build {build_s:.2f} s, peak Python memory {peak / 2**20:.1f} MiB (process max RSS {rss:.0f} MiB); "
        f"from_rows ({len(rows)} rows) {load_s:.2f} s"
    )

    posts = [json.loads(line) for line in Path(args.eval).read_text(encoding="utf-8").splitlines() if line]
    out_dir = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="hiljade-geoparse-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    pred_path = out_dir / "predictions.jsonl"
    with pred_path.open("w", encoding="utf-8") as fh:
        for post in posts:
            res = locate(post["text"], gaz)
            c = res.chosen
            fh.write(
                json.dumps(
                    {
                        "id": post["id"],
                        "lat": c.lat if c else None,
                        "lon": c.lon if c else None,
                        "status": c.status if c else res.outcome,
                        "outcome": res.outcome,
                        "method": c.method if c else None,
                        "source": c.source if c else None,
                        "matched": c.matched if c else None,
                    },
                    ensure_ascii=False,
                )
                + "\n"
            )
    print(f"predictions: {pred_path}")
    scorer = Path(args.eval).parent / "score_geoparse.py"
    if scorer.exists():
        sys.stdout.flush()
        subprocess.run([sys.executable, str(scorer), args.eval, str(pred_path)], check=False)

    if args.posts:
        texts = [p["text"] for p in posts]
        if args.workers > 1:
            rate = speed(gaz, texts, args.posts, args.workers)
            print(f"locate: {rate:,.0f} posts/s with {args.workers} processes ({args.posts:,} posts)")
        print(f"locating modules: {compiled.BUILD}")
        ours, peer = race(gaz, texts, args.posts, args.rounds)
        ratio = ours / peer
        print(f"locate: hiljade {ours:.0f} texts/s, aho-corasick scan {peer:.0f} texts/s, ratio {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
