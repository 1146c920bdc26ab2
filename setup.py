"""Builds hiljade (the metadata is in pyproject.toml) and compiles its locating modules with mypyc.

The modules of ``hiljade/compiled.py`` (``COMPILED``) are compiled into one group named after a
digest of their sources, so that a build of other sources is never run. ``HILJADE_PURE=1``
installs the Python sources alone (no C compiler needed; locating is slower).
"""

import importlib.util
from pathlib import Path

from setuptools import setup

HERE = Path(__file__).resolve().parent
PIPELINE = HERE / "hiljade" / "pipeline"


def prune(prefix: str, keep: str | None) -> None:
    """Remove what earlier builds compiled into the source folder (an editable install builds there):
    every compiled file when nothing is to be compiled (``keep`` None), else the groups (files named
    ``prefix...``) of other sources than ``keep``."""
    for path in [*PIPELINE.glob("*.so"), *PIPELINE.glob("*.pyd")]:
        if keep is None or (path.name.startswith(prefix) and not path.name.startswith(keep + "__")):
            path.unlink()


def compiled_modules() -> list:
    spec = importlib.util.spec_from_file_location("hiljade_compiled", HERE / "hiljade" / "compiled.py")
    compiled = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(compiled)
    prefix = compiled.GROUP_PREFIX.rpartition(".")[2]  # a group's files, named in the package
    if compiled.pure_wanted():
        prune(prefix, None)
        return []
    from mypyc.build import mypycify

    group = compiled.group_name(compiled.digest(PIPELINE))
    prune(prefix, group.rpartition(".")[2])
    return mypycify(
        ["--ignore-missing-imports", "--follow-imports=silent"]
        + [str(p.relative_to(HERE)) for p in compiled.sources(PIPELINE)],
        opt_level="3",
        group_name=group,
    )


setup(ext_modules=compiled_modules())
