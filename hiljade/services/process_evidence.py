"""Evidence `hiljade process` hands to ``locate`` besides a post's text: exact platform coordinates
and the EXIF readings kept with a post or its media."""

from __future__ import annotations

import dataclasses
from typing import Any

from hiljade.pipeline.exif import ExifResult
from hiljade.records import Candidate


def platform_candidate(lat: float | None, lon: float | None) -> list[Candidate]:
    """Exact platform coordinates as evidence (a place's bounding box never reaches here)."""
    if lat is None or lon is None:
        return []
    return [
        Candidate(
            lat,
            lon,
            "platform_geo",
            10.0,
            0.95,
            "auto",
            matched="platform coordinates",
            source="platform:geo",
        )
    ]


_EXIF_FIELDS = tuple(f.name for f in dataclasses.fields(ExifResult))


def stored_exif_candidates(entries: Any) -> list[Candidate]:
    """Candidates from the EXIF results an importer kept in ``posts.raw["media_exif"]`` (original
    photos from mail or photo folders, whose bytes are not stored); malformed entries are skipped."""
    found = []
    for entry in entries if isinstance(entries, list) else ():
        if not isinstance(entry, dict) or not all(_is_number(entry.get(k)) for k in ("lat", "lon")):
            continue
        fields = {k: entry.get(k) for k in _EXIF_FIELDS if k != "file"}
        fields.update({k: None for k in ("altitude", "direction", "h_error_m") if not _is_number(fields[k])})
        candidate = ExifResult(file=str(entry.get("file") or ""), **fields).to_candidate()
        if candidate is not None:
            evidence = {**candidate.evidence, "sha256": entry.get("sha256")}
            found.append(dataclasses.replace(candidate, evidence=evidence))
    return found


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
