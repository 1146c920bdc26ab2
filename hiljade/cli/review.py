"""Review commands: list, show, accept, reject, move, merge, split (every decision is audited)."""

from __future__ import annotations

import dataclasses
import functools
import json
import sys
from collections.abc import Callable
from typing import Any

import click

from hiljade.cli.options import ROW_ID, get_config, handle_errors, summary
from hiljade.errors import ReviewError
from hiljade.services import agreement
from hiljade.services.review import reviewer_name
from hiljade.services.review_queue import decide, quoted, render, sighting_view, waiting, waiting_total
from hiljade.services.store import open_store
from hiljade.wording import plural

SIGHTING_STATUSES = ("pending_review", "auto", "confirmed", "rejected")


def review_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """A decision that cannot be made as asked (unknown id, bad point) is bad usage: message, exit 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ReviewError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)

    return wrapper


def reviewer_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """--reviewer, shared by every decision."""
    return click.option(
        "--reviewer", default=None, help="Who decides (default: $HILJADE_REVIEWER, else the OS user name)."
    )(func)


def _decide(ctx: click.Context, reviewer: str | None, act: Callable[[Any], Any]) -> None:
    """Run one decision in one transaction and print its one-line summary."""
    config = get_config(ctx)
    name = reviewer_name(reviewer)
    decision = decide(config, open_store(config), name, act)
    summary(f"review: {decision.message} (by {name})")


@click.group()
def review() -> None:
    """Review doubtful locations and camera sites; every decision goes to the audit log (review_log)."""


@review.command("list")
@click.option("--status", type=click.Choice(SIGHTING_STATUSES), default="pending_review", show_default=True,
              help="Which sightings to list.")
@click.option("--limit", type=click.IntRange(min=1, max=2**31 - 1), default=None, help="At most this many.")
@click.pass_context
@handle_errors
def review_list(ctx: click.Context, status: str, limit: int | None) -> None:
    """Sightings waiting for a reviewer: id, method, precision, matched text, the post's start."""
    store = open_store(get_config(ctx))
    items = waiting(store, status=status, limit=limit)
    for item in items:
        mark = " " if item.chosen else "?"
        click.echo(
            f"{item.id:>7}{mark} {item.method:<12} {item.precision_m:>7.0f} m  "
            f"{quoted(item.matched[:40]):<42} {item.excerpt}"
        )
    ambiguous = sum(1 for i in items if not i.chosen)
    extra = f" ({plural(ambiguous, 'candidate')} of ambiguous posts, marked ?)" if ambiguous else ""
    total = len(items) if limit is None or len(items) < limit else waiting_total(store, status=status)
    shown = f"{plural(total, 'sighting')} {status}"
    if total > len(items):
        shown = f"{len(items)} of {shown} shown (--limit {limit})"
    summary(f"review list: {shown.replace('_', ' ')}{extra}")


@review.command("show")
@click.argument("sighting_id", type=ROW_ID)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.pass_context
@handle_errors
@review_errors
def review_show(ctx: click.Context, sighting_id: int, as_json: bool) -> None:
    """The post text, every candidate with its evidence, the chosen one, its site, and map links."""
    store = open_store(get_config(ctx))
    view = sighting_view(store, sighting_id)
    if as_json:
        click.echo(json.dumps(dataclasses.asdict(view), ensure_ascii=False, default=str, indent=1))
    else:
        click.echo(render(view))
    summary(f"review show: sighting {sighting_id}, {plural(len(view.candidates), 'candidate')}, "
            f"site {view.site['id'] if view.site else 'none'}")


@review.command("accept")
@click.argument("sighting_id", type=ROW_ID)
@click.option("--reason", default=None, help="Why (kept in the audit log).")
@reviewer_option
@click.pass_context
@handle_errors
@review_errors
def review_accept(ctx: click.Context, sighting_id: int, reason: str | None, reviewer: str | None) -> None:
    """Confirm a sighting: it joins or creates a site, and that site becomes verified (once
    review.required_agreements different reviewers agreed)."""
    need = agreement.required_agreements(get_config(ctx))
    _decide(ctx, reviewer, lambda r: agreement.accept(r, sighting_id, reason, required=need))


@review.command("reject")
@click.argument("sighting_id", type=ROW_ID)
@click.option("--reason", required=True, help="Why (kept in the audit log).")
@reviewer_option
@click.pass_context
@handle_errors
@review_errors
def review_reject(ctx: click.Context, sighting_id: int, reason: str, reviewer: str | None) -> None:
    """Reject a sighting: it is kept with status rejected and leaves its site."""
    need = agreement.required_agreements(get_config(ctx))
    _decide(ctx, reviewer, lambda r: agreement.reject(r, sighting_id, reason, required=need))


@review.command("move")
@click.argument("sighting_id", type=ROW_ID)
@click.option("--lat", type=click.FloatRange(-90, 90), required=True, help="Latitude (north-south, ~44.8).")
@click.option("--lon", type=click.FloatRange(-180, 180), required=True, help="Longitude (east-west, ~20.4).")
@click.option("--precision", "precision_m", type=click.FloatRange(min=0, min_open=True), default=5.0,
              show_default=True, help="How exact the point is, in metres.")
@click.option("--reason", default=None, help="Why (kept in the audit log).")
@reviewer_option
@click.pass_context
@handle_errors
@review_errors
def review_move(
    ctx: click.Context, sighting_id: int, lat: float, lon: float, precision_m: float, reason: str | None,
    reviewer: str | None,
) -> None:
    """Give the camera's point: a new confirmed manual sighting replaces the chosen one (which is kept)."""
    _decide(ctx, reviewer, lambda r: r.move(sighting_id, lat, lon, precision_m=precision_m, reason=reason))


@review.command("merge")
@click.argument("keep_id", metavar="SITE", type=ROW_ID)
@click.argument("other_id", metavar="SITE", type=ROW_ID)
@click.option("--reason", default=None, help="Why (kept in the audit log).")
@reviewer_option
@click.pass_context
@handle_errors
@review_errors
def review_merge(
    ctx: click.Context, keep_id: int, other_id: int, reason: str | None, reviewer: str | None
) -> None:
    """Merge the second site into the first; the second stays, empty, with status merged."""
    _decide(ctx, reviewer, lambda r: r.merge(keep_id, other_id, reason))


@review.command("split")
@click.argument("site_id", metavar="SITE", type=ROW_ID)
@click.option("--sighting", "sighting_ids", type=ROW_ID, multiple=True,
              help="Move this sighting to one new site (repeat for several).")
@click.option("--radius", "radius_m", type=float, default=None,
              help="Without --sighting: regroup within this many metres (default half of sites.radius_m).")
@click.option("--reason", default=None, help="Why (kept in the audit log).")
@reviewer_option
@click.pass_context
@handle_errors
@review_errors
def review_split(
    ctx: click.Context,
    site_id: int,
    sighting_ids: tuple[int, ...],
    radius_m: float | None,
    reason: str | None,
    reviewer: str | None,
) -> None:
    """Split a site: the named sightings, or groups found with a smaller radius, become new sites."""
    _decide(
        ctx, reviewer, lambda r: r.split(site_id, sighting_ids=sighting_ids, radius_m=radius_m, reason=reason)
    )
