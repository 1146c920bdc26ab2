"""The command line: thin click commands over the use cases in hiljade.services, one module per
command group; ``main`` is the root group (hiljade.cli.main)."""

from __future__ import annotations

from hiljade.cli.main import main

__all__ = ["main"]
