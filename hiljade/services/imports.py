"""Imports of archives, mail and photo folders."""

from __future__ import annotations

from pathlib import Path

from hiljade.config import Config
from hiljade.models.store import Store
from hiljade.services.store import author_policy


def import_twarc(config: Config, store: Store, path: Path | str):  # noqa: ANN201 - TwarcReport
    """Import a twarc2 JSONL archive (raw pages or flattened tweets; ``-`` for stdin)."""
    from hiljade.harvester.twarc import import_twarc as run_import

    return run_import(store, author_policy(config), path)


