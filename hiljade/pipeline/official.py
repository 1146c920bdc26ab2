"""Official lists of camera locations, row by row: coordinates (a decimal comma too), police-style
addresses and intersections in either script, placed with the same geoparser and gazetteer as posts.

Every row gets a status: ``placed``; ``street_only`` (the words name only a street: kept, never
matched automatically); ``not_placed`` (with the reason); ``outside_area`` (coordinates, or the
place the words name, outside the area); ``duplicate`` (the same place and words as an earlier row).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from hiljade.pipeline.gazetteer import Gazetteer
from hiljade.pipeline.geometry import M_PER_DEG, valid_position
from hiljade.pipeline.locate import locate
from hiljade.pipeline.scripts import fold
from hiljade.pipeline.textgeo import find_coordinates

STATUSES = ("placed", "street_only", "not_placed", "outside_area", "duplicate")
NO_WORDS = "neither an address nor coordinates"
BAD_COORDINATES = "coordinates that cannot be read"
OUTSIDE = "outside the area"
SWAPPED = "latitude and longitude were swapped in the list"
GEOCODER_OFF = "; the online geocoder is off"  # what ``locate.explain`` adds; lists never ask it

_NUMBER = re.compile(r"[-−]?\d+(?:[.,]\d+)?")
_PARENS = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_NO_NUMBER = re.compile(r"(?<!\w)(?:b\.\s?b\.?|bb|б\.\s?б\.?|бб)(?!\w)", re.I)
_SEPARATOR = re.compile(r"\s*[\\|+;]\s*")
_CITY = re.compile(r",?\s*(?:Beograd|Београд)\s*$", re.I)
_QUOTES = "\"'„“”«»‘’"


@dataclass(frozen=True)
class ListRow:
    """One row of a list as read: its line, its text, the words and the coordinate cells."""

    line: int
    original: str
    address: str = ""
    lat: str = ""
    lon: str = ""
    coordinates: str = ""  # one cell holding both, "44,8150 20,4620"
    point: tuple[float, float] | None = None  # (lat, lon) from a GeoJSON geometry


@dataclass(frozen=True)
class PlacedRow:
    """A row with its position (when placed), how it was found and what it came to."""

    line: int
    original: str
    address: str | None
    lat: float | None
    lon: float | None
    method: str | None
    precision_m: float | None
    status: str
    reason: str | None = None


def number(text: str) -> float | None:
    """A number written with a decimal point or a decimal comma ("44,8150"), or None."""
    value = text.strip().replace("−", "-").replace(" ", "")
    if not value:
        return None
    if "," in value and "." not in value:
        value = value.replace(",", ".")
    try:
        result = float(value)
    except ValueError:
        return None
    return result if math.isfinite(result) else None


def _decimals(*texts: str) -> int:
    found = [len(re.split(r"[.,]", t.strip())[1]) if re.search(r"[.,]", t) else 0 for t in texts]
    return min(found) if found else 0


def precision_of(*texts: str) -> float:
    """The precision in metres the written coordinates carry (their decimals), at least 1 m."""
    return round(max(1.0, M_PER_DEG * 10.0 ** -_decimals(*texts)), 1)


def coordinates(row: ListRow) -> tuple[float, float, float] | str | None:
    """The row's (lat, lon, precision_m), a reason when its coordinates cannot be read, or None
    when it gives none."""
    if row.point is not None:
        lat, lon = row.point
        return (lat, lon, 1.0) if valid_position(lat, lon) else BAD_COORDINATES
    if row.lat.strip() or row.lon.strip():
        lat_n, lon_n = number(row.lat), number(row.lon)
        if lat_n is None or lon_n is None or not valid_position(lat_n, lon_n):
            return BAD_COORDINATES
        return lat_n, lon_n, precision_of(row.lat, row.lon)
    cell = row.coordinates.strip()
    if not cell:
        return None
    parts = _NUMBER.findall(cell)
    if len(parts) == 2:
        lat_n, lon_n = number(parts[0]), number(parts[1])
        if lat_n is not None and lon_n is not None and valid_position(lat_n, lon_n):
            return lat_n, lon_n, precision_of(*parts)
    written = find_coordinates(cell)  # degrees, minutes and seconds, hemispheres, map links
    if written:
        return written[0].lat, written[0].lon, written[0].precision_m
    return BAD_COORDINATES


def normalise_address(text: str) -> str:
    """A police list's address or intersection made plain for the geoparser: no quotes, brackets,
    "bb" (no number) or trailing city; "\\", "|", "+" and ";" between streets read as "/"."""
    out = unicodedata.normalize("NFC", text).strip().strip(_QUOTES)
    out = _PARENS.sub(" ", out)
    out = _NO_NUMBER.sub(" ", out)
    out = _SEPARATOR.sub(" / ", out)
    out = " ".join(out.split()).strip(" ,/")
    return _CITY.sub("", out).strip(" ,")


def place_row(row: ListRow, gazetteer: Gazetteer | None) -> PlacedRow:
    """Place one row: its coordinates when they are readable and inside the area (swapped, when only
    that puts them inside), else its words."""
    address = normalise_address(row.address) if row.address.strip() else ""
    kept = row.address.strip() or None
    found = coordinates(row)
    outside = False
    if isinstance(found, tuple):
        lat, lon, precision = found
        if gazetteer is None or gazetteer.contains(lat, lon):
            return PlacedRow(row.line, row.original, kept, lat, lon, "coordinates", precision, "placed")
        if valid_position(lon, lat) and gazetteer.contains(lon, lat):
            return PlacedRow(
                row.line, row.original, kept, lon, lat, "coordinates", precision, "placed", SWAPPED
            )
        outside = True
    if not address:
        if outside:
            return PlacedRow(
                row.line,
                row.original,
                kept,
                *found[:2],
                "coordinates",
                found[2],
                "outside_area",
                f"the coordinates are {OUTSIDE}",
            )
        reason = found if isinstance(found, str) else NO_WORDS
        return PlacedRow(row.line, row.original, kept, None, None, None, None, "not_placed", reason)
    located = locate(address, gazetteer)
    chosen = located.chosen
    if chosen is not None:
        status = "street_only" if chosen.method == "street" else "placed"
        reason = "only the street is named" if status == "street_only" else None
        return PlacedRow(
            row.line,
            row.original,
            kept,
            chosen.lat,
            chosen.lon,
            chosen.method,
            chosen.precision_m,
            status,
            reason,
        )
    if outside or located.outcome == "outside_area":
        return PlacedRow(
            row.line,
            row.original,
            kept,
            None,
            None,
            None,
            None,
            "outside_area",
            f"the {'coordinates are' if outside else 'place named is'} {OUTSIDE}",
        )
    reason = located.reason.replace(GEOCODER_OFF, "")  # lists are placed offline only
    if isinstance(found, str):
        reason = f"{found}; {reason}"
    return PlacedRow(row.line, row.original, kept, None, None, None, None, "not_placed", reason)


def _key(row: ListRow) -> tuple[Any, ...] | None:
    found = coordinates(row)
    where = (round(found[0], 6), round(found[1], 6)) if isinstance(found, tuple) else None
    words = " ".join(fold(normalise_address(row.address)).split()) if row.address.strip() else ""
    if where is None and not words:
        return None
    return where, words


def place_rows(rows: Iterable[ListRow], gazetteer: Gazetteer | None) -> list[PlacedRow]:
    """Place every row; a row with the same coordinates and words as an earlier one is a duplicate."""
    seen: dict[tuple[Any, ...], int] = {}
    placed = []
    for row in rows:
        key = _key(row)
        if key is not None and key in seen:
            placed.append(
                PlacedRow(
                    row.line,
                    row.original,
                    row.address.strip() or None,
                    None,
                    None,
                    None,
                    None,
                    "duplicate",
                    f"the same as line {seen[key]}",
                )
            )
            continue
        if key is not None:
            seen[key] = row.line
        placed.append(place_row(row, gazetteer))
    return placed


def reason_kind(reason: str) -> str:
    """A reason without the names it quotes, to count rows by: "a place name was found but it is
    not in the gazetteer"."""
    short = _PARENS.sub("", reason).split(";")[0].split(":")[0]
    return " ".join(short.split())


def count_rows(rows: Sequence[PlacedRow], *, empty: int = 0) -> dict[str, Any]:
    """The counts an import reports and keeps: read, each status, not placed by reason, and the
    empty lines skipped."""
    statuses = Counter(r.status for r in rows)
    reasons = Counter(reason_kind(r.reason or "") for r in rows if r.status == "not_placed")
    counts: dict[str, Any] = {"read": len(rows), **{s: statuses.get(s, 0) for s in STATUSES}}
    counts["not_placed_by_reason"] = dict(sorted(reasons.items()))
    counts["empty"] = empty
    return counts
