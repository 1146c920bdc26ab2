"""Agreement of several reviewers: a sighting is confirmed (or rejected) only when
``review.required_agreements`` different reviewers voted so.

With one agreement required (the default) a vote is the decision itself, exactly as before. With
more, each vote is a ``vote`` row in the audit log (review_log); a reviewer's latest vote replaces
their earlier one, so one reviewer clicking twice counts once. When enough reviewers agree, the
decision runs through ``Review`` like any other and names who agreed.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from hiljade.config import Config
from hiljade.errors import ReviewError
from hiljade.models.review_queue import VOTE, votes, write_review_log
from hiljade.models.schema import Sighting
from hiljade.services.review import Decision, Review, check_point
from hiljade.wording import listed, plural

VOTES = ("accept", "reject")


def required_agreements(config: Config) -> int:
    """How many different reviewers must agree (``review.required_agreements``, at least 1)."""
    return max(1, int(config.get("review.required_agreements", 1)))


def accept(review: Review, sighting_id: int, reason: str | None = None, *, required: int = 1) -> Decision:
    """This reviewer votes to confirm the sighting; it is confirmed once ``required`` reviewers agree."""
    return vote(review, sighting_id, "accept", reason, required=required)


def reject(review: Review, sighting_id: int, reason: str, *, required: int = 1) -> Decision:
    """This reviewer votes to reject the sighting; it is rejected once ``required`` reviewers agree."""
    return vote(review, sighting_id, "reject", reason, required=required)


def vote(review: Review, sighting_id: int, choice: str, reason: str | None, *, required: int = 1) -> Decision:
    """Record one reviewer's vote and decide when enough different reviewers agree."""
    if choice not in VOTES:
        raise ReviewError(f"a vote is accept or reject, not {choice}")
    if required <= 1:
        return (
            review.accept(sighting_id, reason)
            if choice == "accept"
            else review.reject(sighting_id, reason or "")
        )
    if choice == "reject" and not (reason or "").strip():
        raise ReviewError("a rejection needs a reason (--reason TEXT)")
    row = _sighting(review, sighting_id)
    if choice == "accept":
        _acceptable(review, row)
    write_review_log(
        review.conn, at=review.now, reviewer=review.reviewer, action=VOTE, target="sighting",
        target_id=sighting_id, reason=reason, details={"vote": choice, "required": required},
    )
    agreeing = [v["reviewer"] for v in votes(review.conn, sighting_id) if v["vote"] == choice]
    if len(agreeing) < required:
        waiting = required - len(agreeing)
        return Decision(
            VOTE,
            "sighting",
            sighting_id,
            f"sighting {sighting_id}: {choice} noted, {len(agreeing)} of {required} reviewers agree; "
            f"waiting for {plural(waiting, 'more reviewer')}",
        )
    if row.status == ("confirmed" if choice == "accept" else "rejected"):
        return Decision(
            VOTE,
            "sighting",
            sighting_id,
            f"sighting {sighting_id}: {choice} noted; it was already {row.status}",
        )
    agreed = f"agreed by {listed(agreeing)}"
    why = f"{agreed}: {reason}" if reason else agreed
    decision = review.accept(sighting_id, why) if choice == "accept" else review.reject(sighting_id, why)
    return Decision(
        decision.action, decision.target, decision.target_id, f"{decision.message} ({agreed})", decision.sites
    )


def _sighting(review: Review, sighting_id: int) -> Any:
    row = review.conn.execute(select(Sighting.__table__).where(Sighting.id == sighting_id)).first()
    if row is None:
        raise ReviewError(f"there is no sighting {sighting_id}; see `hiljade review list`")
    return row


def _acceptable(review: Review, row: Any) -> None:
    """Refuse an accept vote that could never become a decision (a street is a line; outside the area)."""
    if row.method == "street":
        raise ReviewError(
            f"sighting {row.id} is a street-only match (a line, not a point); give the camera's "
            f"point with `hiljade review move {row.id} --lat LAT --lon LON`"
        )
    check_point(row.lat, row.lon, review.area)
