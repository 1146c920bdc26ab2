"""What ``locate`` says of a text, as plain values two runs (or two processes) can compare."""

from __future__ import annotations

import json
from typing import Any

from hiljade.pipeline.locate import Located


def said(res: Located) -> tuple[Any, ...]:
    """Everything ``locate`` says, evidence included: the chosen candidate, every candidate with its
    evidence, the outcome and the reason."""
    cands = [(repr(c), json.dumps(c.evidence, ensure_ascii=False)) for c in res.candidates]
    return repr(res.chosen), cands, res.outcome, res.reason
