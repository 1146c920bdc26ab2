"""The gazetteer's built name index, cached per build so that `locate` and `process` do not build it
again on every start.

One file per gazetteer content and code: named by the build's content fingerprint
(``gazetteer_builds.fingerprint``, a hash of its rows), the database dialect (the rows come back from
SQLite and PostgreSQL as equal values, not always as equal objects) and ``code_key``: a hash of the
source of ``hiljade/pipeline`` (which shapes the index), this module's format, the versions of
Python, shapely and pyahocorasick (the index holds their objects) and whether the locating modules
run compiled (``hiljade.compiled``). A new build has a new fingerprint, a code change a new key:
either means a new file, never a stale index. The newest ``KEEP`` files are kept, older ones
removed.

The folder is ``$HILJADE_CACHE_DIR``, else ``$XDG_CACHE_HOME/hiljade``, else ``~/.cache/hiljade``;
created 0700, each file 0600, written whole or not at all (a temporary file, then ``os.replace``).
A missing, corrupt, unreadable or foreign file is a miss; a folder that cannot be made or written
means no cache. The cache never fails a command: its problems are logged at debug level only.

The file is a pickle, and loading a pickle runs code: it is read only from a folder and a file that
this user owns and nobody else may write.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import hashlib
import importlib.metadata
import logging
import os
import pickle
import re
import stat
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, BinaryIO

import shapely

import hiljade.pipeline
from hiljade import compiled
from hiljade.pipeline.gazetteer import Gazetteer

log = logging.getLogger(__name__)

CACHE_ENV = "HILJADE_CACHE_DIR"
FORMAT = "hiljade-gazetteer-1"  # change it when what the file holds changes shape
KEEP = 4  # files kept: a few databases (or a few builds) in turn do not evict each other
STALE_TEMPORARY = 3600  # seconds after which a temporary file is a writer's leftover
PROTOCOL = pickle.HIGHEST_PROTOCOL
_FINGERPRINT = re.compile(r"[0-9a-f]{16,128}")  # `replace_gazetteer` stores a sha256 in hex
_DIALECT = re.compile(r"[a-z0-9_]{1,32}")


def cache_dir() -> Path:
    """Where the cache lives: ``$HILJADE_CACHE_DIR``, ``$XDG_CACHE_HOME/hiljade`` or ``~/.cache/hiljade``."""
    chosen = os.environ.get(CACHE_ENV)
    if chosen:
        return Path(chosen).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / "hiljade"


@functools.cache
def code_key() -> str:
    """A hash of what shapes a cached index besides its rows: the pipeline's source, this format,
    the Python, shapely and pyahocorasick versions, compiled or not."""
    automaton = importlib.metadata.version("pyahocorasick")  # the module itself says no version
    build = "compiled" if compiled.BUILD == "compiled" else "sources"  # the same names, other classes
    versions = f"{sys.implementation.cache_tag}|{shapely.__version__}|{automaton}|{build}"
    digest = hashlib.sha256(f"{FORMAT}|{versions}".encode())
    for package in hiljade.pipeline.__path__:
        for path in sorted(Path(package).glob("*.py")):
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def cache_file(fingerprint: str, dialect: str) -> Path:
    """The file that holds the index of the build with ``fingerprint`` read from a ``dialect`` store
    (ValueError for a fingerprint or dialect that cannot be part of a file name)."""
    if not _FINGERPRINT.fullmatch(fingerprint) or not _DIALECT.fullmatch(dialect):
        raise ValueError("not a fingerprint and dialect a file can be named by")
    return cache_dir() / f"gazetteer-{fingerprint}-{dialect}-{code_key()}.pickle"


def read_cached(fingerprint: str, dialect: str) -> Gazetteer | None:
    """The cached index of that build, or None (no file, not ours, corrupt, or another content)."""
    try:
        path = cache_file(fingerprint, dialect)
        if not _private(path.parent.stat()):
            log.debug("gazetteer cache %s: not a private folder of this user, not used", path.parent)
            return None
        with path.open("rb") as fh:
            if not _private(os.fstat(fh.fileno())):
                log.debug("gazetteer cache %s: not a private file of this user, not used", path)
                return None
            if pickle.load(fh) != _header(fingerprint, dialect):
                log.debug("gazetteer cache %s: holds another gazetteer, not used", path)
                return None
            gazetteer = _load_quickly(fh)
    except FileNotFoundError:
        return None
    except Exception as exc:  # noqa: BLE001 - a cache that cannot be read is a miss, whatever the reason
        log.debug("gazetteer cache: cannot read it (%s), building the index instead", exc)
        return None
    if not isinstance(gazetteer, Gazetteer):
        log.debug("gazetteer cache %s: holds no gazetteer, not used", path)
        return None
    with contextlib.suppress(OSError):  # a read-only folder still serves the file
        os.utime(path)  # recently used: kept longest
    return gazetteer


def write_cached(fingerprint: str, dialect: str, gazetteer: Gazetteer) -> Path | None:
    """Keep the index of that build; returns the file, or None when there is no usable cache."""
    temporary: str | None = None
    try:
        path = cache_file(fingerprint, dialect)
        folder = _private_folder(path.parent)
        if folder is None:
            return None
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=".gazetteer-", suffix=".tmp")  # 0600
        with os.fdopen(handle, "wb") as fh:
            pickle.dump(_header(fingerprint, dialect), fh, PROTOCOL)
            pickle.dump(gazetteer, fh, PROTOCOL)
        os.chmod(temporary, stat.S_IRUSR | stat.S_IWUSR)
        os.replace(temporary, path)
        temporary = None
    except Exception as exc:  # noqa: BLE001 - a cache that cannot be written is no cache, never an error
        log.debug("gazetteer cache: cannot write it (%s)", exc)
        return None
    finally:
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
    _prune(folder, keep=path)
    return path


def _header(fingerprint: str, dialect: str) -> tuple[str, str, str, str]:
    return (FORMAT, fingerprint, dialect, code_key())


def _load_quickly(fh: BinaryIO) -> Any:
    """Unpickle without the cyclic garbage collector: it would walk the growing index again and again
    (most of the load time), and unpickling makes no garbage to collect."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return pickle.load(fh)
    finally:
        if enabled:
            gc.enable()


def _private(st: os.stat_result) -> bool:
    """Owned by this user and writable by nobody else."""
    owner = os.getuid() if hasattr(os, "getuid") else st.st_uid
    return st.st_uid == owner and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _private_folder(folder: Path) -> Path | None:
    """The cache folder, made 0700 when missing; None when it cannot be made or is not private."""
    if not folder.is_dir():
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not _private(folder.stat()):
        log.debug("gazetteer cache %s: not a private folder of this user, not used", folder)
        return None
    return folder


def _prune(folder: Path, *, keep: Path) -> None:
    """Remove all but the ``KEEP`` most recently used cache files, and writers' old leftovers."""
    with contextlib.suppress(OSError):  # another process may be pruning too
        files = sorted(folder.glob("gazetteer-*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in [p for p in files if p != keep][KEEP - 1 :]:
            old.unlink(missing_ok=True)
        now = time.time()
        for leftover in folder.glob(".gazetteer-*.tmp"):
            if now - leftover.stat().st_mtime > STALE_TEMPORARY:
                leftover.unlink(missing_ok=True)

