"""python -m hiljade"""

from __future__ import annotations

from hiljade.cli import main

main()
