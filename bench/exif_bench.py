"""EXIF reads per second over the shared third-party images (bytes already in memory).

    python bench/exif_bench.py [--reads 2000] [--data ../shared/data]

Prints one line per phase and ends with ``exif_files_per_second=<n>``.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from hiljade.pipeline.exif import read_exif  # noqa: E402


def load(data_dir: Path) -> list[tuple[str, bytes]]:
    """Every image listed in expected_gps.csv, as (name, bytes)."""
    table = data_dir / "exif_images" / "expected_gps.csv"
    with table.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return [(row["file"], (data_dir / "exif_images" / row["file"]).read_bytes()) for row in rows]


def run(images: list[tuple[str, bytes]], reads: int) -> tuple[float, int, int]:
    """(seconds, reads done, reads with a fix) for ``reads`` reads cycling over ``images``."""
    fixes = 0
    start = time.perf_counter()
    for i in range(reads):
        name, data = images[i % len(images)]
        fixes += read_exif(data, name=name).lat is not None
    return time.perf_counter() - start, reads, fixes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=2000)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    args = parser.parse_args()
    if not (args.data / "exif_images" / "expected_gps.csv").is_file():
        print(f"no shared data at {args.data}", file=sys.stderr)
        return 2
    images = load(args.data)
    size = sum(len(data) for _, data in images)
    print(f"images={len(images)} bytes={size}")
    run(images, len(images))  # warm-up: imports, pillow-heif registration
    seconds, reads, fixes = run(images, args.reads)
    print(f"reads={reads} seconds={seconds:.3f} with_fix={fixes}")
    print(f"exif_files_per_second={reads / seconds:.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
