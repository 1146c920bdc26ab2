"""Which build of the locating modules runs: compiled with mypyc, or their Python sources.

``pip install`` (``setup.py``) compiles the modules of ``COMPILED`` with mypyc into one group named
after a digest of their sources; the compiled modules lie beside the sources and Python prefers them.
``hiljade.pipeline`` calls ``choose`` before any of them is imported: it keeps the Python sources
when ``HILJADE_PURE=1`` is set, or when the compiled build is not one of these exact sources (a
source edited or checked out since the last ``pip install``): a stale build never runs. Both builds
give the same answers (``tests/test_locate_compiled.py`` pins them); the compiled one is faster
(``bench/README.md``).

Standard library only: ``setup.py`` loads this file by its path, before hiljade is installed. It
reads the sources, so it lives here and not in the pure ``pipeline``.
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import warnings
from pathlib import Path
from typing import Any

PACKAGE = "hiljade.pipeline"
FOLDER = Path(__file__).resolve().parent / "pipeline"  # where the compiled modules lie
COMPILED = (  # the pure modules locate spends its time in, and what they import of each other
    "fuzzy",
    "scripts",
    "numerals",
    "morphology",
    "normalize",
    "geoparser_lexicon",
    "geoparser_mentions",
    "geoparser_candidates",
    "geoparser_places",
    "geoparser",
    "textgeo",
    "locate",
)
PURE_ENV = "HILJADE_PURE"  # "1": install and run the Python sources only
GROUP_PREFIX = "hiljade.pipeline.locating_"


def sources(folder: Path = FOLDER) -> list[Path]:
    """The source files of the compiled modules."""
    return [folder / f"{name}.py" for name in COMPILED]


def digest(folder: Path = FOLDER) -> str:
    """A digest of the sources of the compiled modules (16 hex digits)."""
    h = hashlib.sha256()
    for path in sources(folder):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def group_name(source_digest: str) -> str:
    """The name of the compiled group built from sources with this digest (its shared library is the
    module ``<group>__mypyc``, beside the compiled modules)."""
    return GROUP_PREFIX + source_digest


def pure_wanted() -> bool:
    return os.environ.get(PURE_ENV, "").strip() == "1"


class _Sources(importlib.abc.MetaPathFinder):
    """Imports the compiled modules from their ``.py`` sources."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        package, _, name = fullname.rpartition(".")
        if package != PACKAGE or name not in COMPILED:
            return None
        return importlib.util.spec_from_file_location(fullname, FOLDER / f"{name}.py")


def _built_here() -> bool:
    """True when a compiled module lies beside the sources (a build, current or not)."""
    return any(
        (FOLDER / f"{name}{suffix}").exists()
        for name in COMPILED
        for suffix in importlib.machinery.EXTENSION_SUFFIXES
    )


BUILD = "sources"  # what ``choose`` settled on (hiljade.pipeline calls it): "compiled" or "sources (why)"


def choose() -> str:
    """Keep the Python sources where the compiled build must not run (see the module docstring);
    which build runs, in plain words. Called once, by ``hiljade.pipeline``."""
    global BUILD
    if any(f"{PACKAGE}.{name}" in sys.modules for name in COMPILED):
        return BUILD  # already imported: too late to choose again
    if not _built_here():
        BUILD = "sources (not compiled)"
        return BUILD
    if pure_wanted():
        BUILD = f"sources ({PURE_ENV}=1)"
    elif importlib.util.find_spec(group_name(digest()) + "__mypyc") is not None:
        BUILD = "compiled"
        return BUILD
    else:
        BUILD = "sources (the compiled build is of other sources)"
        warnings.warn(
            "hiljade: the compiled locating modules were built from other sources; running the Python "
            "sources instead, which is slower. Run `pip install -e .` again to compile these.",
            RuntimeWarning,
            stacklevel=2,
        )
    if not any(isinstance(f, _Sources) for f in sys.meta_path):
        sys.meta_path.insert(0, _Sources())
    return BUILD
