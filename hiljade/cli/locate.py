"""`hiljade locate`: texts located against the stored gazetteer (or one built from OSM files).

A module of its own so that `locate` loads only what it needs: the stored gazetteer (its cached
index) and the geoparser, not the EXIF readers, the HTTP client or `process`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from hiljade.cli.options import area_option, get_config, handle_errors, summary
from hiljade.records import Candidate
from hiljade.services.gazetteer import load_area, local_name_files, read_gazetteer, stored_gazetteer
from hiljade.services.locating import locate_text
from hiljade.services.store import open_store


def candidate_dict(c: Candidate) -> dict[str, Any]:
    return {
        "lat": round(c.lat, 7),
        "lon": round(c.lon, 7),
        "method": c.method,
        "precision_m": round(c.precision_m, 1),
        "confidence": round(c.confidence, 3),
        "status": c.status,
        "matched": c.matched,
        "source": c.source,
    }


@click.command()
@click.option("--text", default=None, help="Locate this one text instead of reading JSON lines from stdin.")
@click.option(
    "--gazetteer",
    "gazetteer_files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Build an in-memory gazetteer from this OSM file (repeatable) instead of the database's.",
)
@area_option
@click.pass_context
@handle_errors
def locate(
    ctx: click.Context, text: str | None, gazetteer_files: tuple[Path, ...], area_path: Path | None
) -> None:
    """Locate texts: JSON lines {"id", "text"} on stdin (or --text), one JSON answer per line on stdout."""
    config = get_config(ctx)
    if gazetteer_files:
        places = read_gazetteer(
            list(gazetteer_files), area=load_area(config, area_path), local_names=local_name_files(config)
        )
    else:
        _, places = stored_gazetteer(open_store(config))
    inputs = [{"id": None, "text": text}] if text is not None else _json_lines(sys.stdin)
    counts = {"located": 0, "pending_review": 0, "nothing": 0, "outside_area": 0, "bad_input": 0}
    for item in inputs:
        if "error" in item:
            counts["bad_input"] += 1
            click.echo(json.dumps(item, ensure_ascii=False))
            continue
        found = locate_text(item["text"], places)
        chosen = found.chosen
        counts[found.outcome] += 1
        click.echo(
            json.dumps(
                {
                    "id": item["id"],
                    "lat": round(chosen.lat, 7) if chosen else None,
                    "lon": round(chosen.lon, 7) if chosen else None,
                    "method": chosen.method if chosen else None,
                    "precision_m": round(chosen.precision_m, 1) if chosen else None,
                    "status": chosen.status if chosen else found.outcome,
                    "matched": chosen.matched if chosen else None,
                    "reason": found.reason or None,  # why nothing was chosen
                    "candidates": [candidate_dict(c) for c in found.candidates],
                },
                ensure_ascii=False,
            )
        )
    summary("locate: " + ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in counts.items()))


def _json_lines(stream: Any) -> Any:
    for number, line in enumerate(stream, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            text = item["text"]
            if not isinstance(text, str):
                raise TypeError("text is not a string")
        except (ValueError, KeyError, TypeError) as exc:
            yield {
                "id": None,
                "line": number,
                "error": f'line {number}: expected {{"id", "text"}} JSON ({exc})',
            }
            continue
        yield {"id": item.get("id"), "text": text}
