"""Where the repository and the read-only third-party data (../shared) are."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("HILJADE_SHARED", REPO.parent / "shared"))
SHARED_DATA = SHARED / "data"
SHARED_EVAL = SHARED / "eval"
SKIP_NO_SHARED = "../shared/data is absent (fresh clone): the recorded third-party data is not here"
