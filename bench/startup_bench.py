"""Start-up time of the command line: `--help`, `status` and `locate`, against a bare `python -c pass`.

    python bench/startup_bench.py [--rounds 5] [--data ../shared/data/belgrade_geo] [--imports]
                                  [--before DIR]

Sets up a temporary SQLite database (`hiljade init`, then `hiljade gazetteer build` from the Belgrade
files, chosen as ``bench/geoparse_eval.py`` chooses them: the boundary file is the area) and a
temporary cache folder (``HILJADE_CACHE_DIR``). Then, in each round, in this order, it times one run
of: ``python -c pass`` (the peer: the interpreter alone), ``hiljade --help``, ``hiljade status``,
``hiljade locate --text TEXT`` right after a new `gazetteer build` of the same files (the build,
which writes the cache, is not timed), ``locate`` again, and ``locate`` once more with the cache
folder emptied (the cost of a cache miss). Every time is the wall time of a whole process, run with
the repository's interpreter; the result is the median over the rounds. ``--imports`` also prints,
per command, the modules it imports that take longest (``python -X importtime``). ``--before DIR``
times the same commands of another copy of the package (DIR/hiljade, e.g. the code before a change)
in the same rounds, each right next to this code's run of it (which goes first alternates by round).

The last line reads ``startup: hiljade --help X s, status Y s, locate Z s, python -c pass W s,
ratio R.RRx`` where ``locate`` is the median of the later runs (the cache warm) and the ratio is
locate / python -c pass: how many bare interpreter start-ups a `locate` costs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
DATA_SUFFIXES = (".geojson", ".osm", ".osm.pbf", ".pbf", ".csv", ".txt")
BOUNDARY_HINT = "boundary"
TEXT = "Kamera na uglu Knez Mihailove i Vuka Karadžića"


def data_files(folder: Path) -> tuple[list[Path], Path | None]:
    """Gazetteer inputs and the boundary file of ``folder`` (as ``bench/geoparse_eval.py`` picks them)."""
    paths = sorted(q for q in folder.iterdir() if q.name.endswith(DATA_SUFFIXES))
    boundary = next((p for p in paths if BOUNDARY_HINT in p.name), None)
    return [p for p in paths if p != boundary], boundary


def hiljade_command() -> list[str]:
    """The `hiljade` script next to this interpreter (the venv's), else ``python -m hiljade``."""
    script = Path(sys.executable).parent / "hiljade"
    return [str(script)] if script.exists() else [sys.executable, "-m", "hiljade"]


def run(args: list[str], env: dict[str, str], cwd: Path) -> float:
    """Wall seconds of one process; fails loudly when the command fails."""
    start = time.perf_counter()
    done = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} exited {done.returncode}: {done.stderr.strip()[-800:]}")
    return took


def top_imports(args: list[str], env: dict[str, str], cwd: Path, shown: int = 8) -> list[str]:
    """The slowest top-level imports of one run (``-X importtime``), as text lines."""
    cmd = [sys.executable, "-X", "importtime", "-m", "hiljade", *args[1:]]
    done = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    rows = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = line.split("|", 2)
        if name.startswith(" ") and not name.startswith("  "):  # imported by the program itself
            rows.append((int(cumulative), name.strip()))
    total = sum(c for c, _ in rows)
    best = sorted(rows, reverse=True)[:shown]
    return [f"{total / 1000:.0f} ms in all"] + [f"{c / 1000:6.1f} ms {n}" for c, n in best]


def _before(name: str) -> str:
    """The row name of the other code's run of a command."""
    return "before: " + ("hiljade locate" if name.startswith("locate") else name)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--data", type=Path, default=SHARED / "data" / "belgrade_geo")
    ap.add_argument("--imports", action="store_true", help="also show each command's slowest imports")
    ap.add_argument(
        "--before",
        type=Path,
        default=None,
        help="a folder holding another copy of the `hiljade` package (e.g. the code before a change): "
        "its --help, status and locate are timed in the same rounds (python -m hiljade, PYTHONPATH)",
    )
    args = ap.parse_args(argv)
    if not args.data.is_dir():
        raise SystemExit(f"{args.data} is absent: the Belgrade OSM files are needed")
    files, boundary = data_files(args.data)
    hiljade = hiljade_command()
    with tempfile.TemporaryDirectory(prefix="hiljade-startup-") as tmp:
        work = Path(tmp)
        cache = work / "cache"
        env = {
            **os.environ,
            "HILJADE_DATABASE_URL": f"sqlite:///{work / 'hiljade.db'}",
            "HILJADE_CACHE_DIR": str(cache),
        }
        env.pop("HILJADE_CONFIG", None)
        area = ["--area", str(boundary)] if boundary else []
        build = [*hiljade, "gazetteer", "build", *area, *map(str, files)]
        run([*hiljade, "init"], env, work)
        first_build = run(build, env, work)
        print(f"set-up: {len(files)} files, first gazetteer build {first_build:.2f} s (process wall time)")
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "hiljade --help": [*hiljade, "--help"],
            "hiljade status": [*hiljade, "status"],
        }
        locate = [*hiljade, "locate", "--text", TEXT]
        before_env = {**env, "PYTHONPATH": str(args.before)} if args.before else env
        before = {  # the same commands of other code (``--before``), each run next to this code's
            name: [sys.executable, "-m", "hiljade", *cmd[len(hiljade) :]]
            for name, cmd in [*list(commands.items())[1:], ("locate, later", locate)]
        }
        times: dict[str, list[float]] = {
            name: []
            for name in [*commands, "locate, first after build", "locate, later", "locate, no cache"]
            + ([_before(name) for name in before] if args.before else [])
        }

        def timed(name: str, cmd: list[str], flip: bool) -> None:
            """Time this code's ``cmd`` and, with ``--before``, the other code's next to it."""
            pair = [(name, cmd, env)]
            if args.before and name in before:
                pair.append((_before(name), before[name], before_env))
            for key, argv, environment in reversed(pair) if flip else pair:
                times[key].append(run(argv, environment, work))

        for number in range(args.rounds):
            flip = number % 2 == 1  # the other code goes first every other round
            for name, cmd in commands.items():
                timed(name, cmd, flip)
            run(build, env, work)
            times["locate, first after build"].append(run(locate, env, work))
            timed("locate, later", locate, flip)
            shutil.rmtree(cache, ignore_errors=True)
            times["locate, no cache"].append(run(locate, env, work))
            run(locate, env, work)  # the cache is written again for the next round
        medians = {name: statistics.median(ts) for name, ts in times.items()}
        for name, ts in times.items():
            spread = f"{min(ts):.3f}-{max(ts):.3f}"
            print(f"{name:<28} median {medians[name]:.3f} s  (range {spread} s, {len(ts)} runs)")
        if args.imports:
            for name, cmd in [*list(commands.items())[1:], ("hiljade locate", locate)]:
                print(f"imports of {name}: " + "; ".join(top_imports(cmd, env, work)))
    peer = medians["python -c pass"]
    located = medians["locate, later"]
    print(
        f"startup: hiljade --help {medians['hiljade --help']:.2f} s, "
        f"status {medians['hiljade status']:.2f} s, locate {located:.2f} s, "
        f"python -c pass {peer:.2f} s, ratio {located / peer:.2f}x"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
