"""Bounds for tests of hostile input: a time limit (SIGALRM) and the peak of traced memory."""

from __future__ import annotations

import contextlib
import signal
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass
from types import FrameType


@dataclass
class Peak:
    """The highest traced allocation (bytes) inside a ``traced_peak`` block."""

    bytes: int = 0


@contextlib.contextmanager
def within_seconds(seconds: int) -> Iterator[None]:
    """Raise TimeoutError in the block when it runs longer than ``seconds`` (a hang fails the test)."""

    def expire(signum: int, frame: FrameType | None) -> None:
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def traced_peak() -> Iterator[Peak]:
    """Trace Python allocations in the block; the result holds their peak."""
    peak = Peak()
    tracemalloc.start()
    try:
        yield peak
    finally:
        peak.bytes = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
