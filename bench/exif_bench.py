"""EXIF GPS reads per second over the shared photos, hiljade against exifread (bytes in memory).

    python bench/exif_bench.py [--rounds 9] [--passes 4] [--data ../shared/data] [--profile]

Every photo listed in ``expected_gps.csv`` is read into memory once. Each round times one sample
of every reader (``--passes`` passes over all the photos), in a rotating order so that neither
side always runs first; the result is the median over the rounds. The peer is
``exifread.process_file`` as hiljade used to call it; Pillow (``getexif`` and the GPS and EXIF
IFDs, pillow-heif registered) and piexif (JPEG files only, when installed) are context lines.
hiljade's fixes are checked against ``expected_gps.csv`` (2e-5 degrees). ``--profile`` prints
where hiljade's time goes (cProfile) instead of timing.

The last line reads ``exif: hiljade X files/s, exifread Y files/s, ratio R.RRx, N files``.
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import gc
import io
import logging
import pstats
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import exifread
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from hiljade.pipeline.exif import read_exif  # noqa: E402

TOLERANCE_DEG = 2e-5
logging.getLogger("exifread").setLevel(logging.ERROR)


def load(data_dir: Path) -> list[dict[str, Any]]:
    """Every row of expected_gps.csv with its photo's bytes under ``data``."""
    folder = data_dir / "exif_images"
    with (folder / "expected_gps.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        row["data"] = (folder / row["file"]).read_bytes()
    return rows


def _hiljade(data: bytes, name: str) -> object:
    return read_exif(data, name=name)


def _exifread(data: bytes, name: str) -> object:
    return exifread.process_file(io.BytesIO(data), details=False, extract_thumbnail=False)


def _pillow(data: bytes, name: str) -> object:
    try:
        with Image.open(io.BytesIO(data)) as image:
            exif = image.getexif()
            return exif.get_ifd(0x8825), exif.get_ifd(0x8769)
    except Exception:  # noqa: BLE001 - broken photos are part of the set
        return None


def _piexif(data: bytes, name: str) -> object:
    import piexif  # bench-only context, not a dependency of hiljade

    try:
        return piexif.load(data)
    except Exception:  # noqa: BLE001 - broken photos are part of the set
        return None


def _sample(reader: Callable[[bytes, str], object], photos: list[tuple[str, bytes]], passes: int) -> float:
    """Files per second of one timed sample: ``passes`` passes over ``photos``."""
    gc.collect()
    start = time.perf_counter()
    for _ in range(passes):
        for name, data in photos:
            reader(data, name)
    return passes * len(photos) / (time.perf_counter() - start)


def accuracy(rows: list[dict[str, Any]]) -> str:
    """hiljade's answers against expected_gps.csv, as one line."""
    fixes, worst, wrong = 0, 0.0, []
    for row in rows:
        result = read_exif(row["data"], name=row["file"])
        if row["category"] == "gps":
            if result.lat is None or result.lon is None:
                wrong.append(row["file"])
                continue
            fixes += 1
            worst = max(worst, abs(result.lat - float(row["lat"])), abs(result.lon - float(row["lon"])))
        elif result.lat is not None:
            wrong.append(row["file"])
    expected = sum(row["category"] == "gps" for row in rows)
    ok = not wrong and worst <= TOLERANCE_DEG
    return (
        f"accuracy: {fixes}/{expected} GPS fixes, largest error {worst:.1e} degrees "
        f"(limit {TOLERANCE_DEG:.0e}), {len(rows) - expected} others without a fix; "
        + ("all correct" if ok else "WRONG: " + ", ".join(wrong or ["error over the limit"]))
    )


def profile(photos: list[tuple[str, bytes]], passes: int) -> None:
    _sample(_hiljade, photos, 1)  # warm-up: imports, pillow-heif registration
    profiler = cProfile.Profile()
    profiler.enable()
    _sample(_hiljade, photos, passes)
    profiler.disable()
    for order in ("cumulative", "tottime"):
        pstats.Stats(profiler).sort_stats(order).print_stats(25)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--passes", type=int, default=4)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    if not (args.data / "exif_images" / "expected_gps.csv").is_file():
        print(f"no shared data at {args.data}", file=sys.stderr)
        return 2
    rows = load(args.data)
    photos = [(row["file"], row["data"]) for row in rows]
    jpegs = [(name, data) for name, data in photos if data[:2] == b"\xff\xd8"]
    print(f"photos: {len(photos)} ({len(jpegs)} JPEG), {sum(len(d) for _, d in photos):,} bytes")
    if args.profile:
        profile(photos, args.passes)
        return 0
    readers: dict[str, tuple[Callable[[bytes, str], object], list[tuple[str, bytes]]]] = {
        "hiljade": (_hiljade, photos),
        "exifread": (_exifread, photos),
        "pillow": (_pillow, photos),
    }
    try:
        import piexif  # noqa: F401 - bench-only context, not a dependency of hiljade

        readers["piexif (JPEG only)"] = (_piexif, jpegs)
    except ImportError:
        print("piexif not installed: no piexif line")
    for reader, subset in readers.values():  # warm-up: imports, pillow-heif registration, caches
        _sample(reader, subset, 1)
    samples: dict[str, list[float]] = {name: [] for name in readers}
    names = list(readers)
    for round_ in range(args.rounds):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            reader, subset = readers[name]
            samples[name].append(_sample(reader, subset, args.passes))
    median = {name: statistics.median(values) for name, values in samples.items()}
    for name, values in samples.items():
        print(f"{name}: median {median[name]:,.0f} files/s (min {min(values):,.0f}, max {max(values):,.0f}, "
              f"{len(values)} rounds of {args.passes} passes)")
    print(accuracy(rows))
    ratio = median["hiljade"] / median["exifread"]
    print(f"exif: hiljade {median['hiljade']:.0f} files/s, exifread {median['exifread']:.0f} files/s, "
          f"ratio {ratio:.2f}x, {len(photos)} files")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
