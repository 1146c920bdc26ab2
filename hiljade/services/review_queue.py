"""The review queue, one sighting's full view, and one decision in one transaction (CLI and web)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from hiljade.config import Config
from hiljade.models.review_queue import QueueItem, SightingView, describe, queue, queue_size, quoted, render
from hiljade.models.store import Store
from hiljade.services.gazetteer import load_area
from hiljade.services.review import Decision, Review

__all__ = ["decide", "quoted", "render", "sighting_view", "waiting", "waiting_total"]


def waiting(store: Store, *, status: str = "pending_review", limit: int | None = None) -> list[QueueItem]:
    """Sightings with ``status`` that wait for a reviewer, oldest first."""
    with store.connect() as conn:
        return queue(conn, status=status, limit=limit)


def waiting_total(store: Store, *, status: str = "pending_review") -> int:
    """How many sightings with ``status`` wait in all (what ``waiting`` lists without a limit)."""
    with store.connect() as conn:
        return queue_size(conn, status=status)


def sighting_view(store: Store, sighting_id: int) -> SightingView:
    """A sighting with its post, every candidate, its site and the review history (ReviewError if unknown)."""
    with store.connect() as conn:
        return describe(conn, sighting_id)


def decide(config: Config, store: Store, reviewer: str, act: Callable[[Review], Decision]) -> Decision:
    """Run one reviewer's decision (``act`` on a Review) in one transaction, now."""
    area = load_area(config)
    with store.transaction() as conn:
        return act(Review(conn, reviewer, config.get("sites"), dt.datetime.now(dt.UTC), area=area))
