"""The filters every export takes: status, a time window, a bounding box, a minimum of reports."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

BBox = tuple[float, float, float, float]  # min lon, min lat, max lon, max lat (the GeoJSON order)


@dataclass(frozen=True)
class ExportFilter:
    """Which rows an export keeps. ``until`` is exclusive; ``statuses`` empty means the default set."""

    statuses: tuple[str, ...] = ()
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    bbox: BBox | None = None
    min_reports: int | None = None

    def describe(self) -> str:
        """The filters in words, for the summary line ("" when none is set)."""
        parts = []
        if self.statuses:
            parts.append("status " + "|".join(self.statuses))
        if self.since:
            parts.append(f"since {self.since:%Y-%m-%d %H:%M}")
        if self.until:
            parts.append(f"until {self.until:%Y-%m-%d %H:%M}")
        if self.bbox:
            parts.append("bbox " + ",".join(f"{v:g}" for v in self.bbox))
        if self.min_reports is not None:
            parts.append(f"at least {self.min_reports} independent reports")
        return ", ".join(parts)


NO_FILTER = ExportFilter()


def parse_bbox(text: str) -> BBox:
    """``minlon,minlat,maxlon,maxlat`` as four numbers (the order GeoJSON and OSM tools use)."""
    parts = [p.strip() for p in text.split(",")]
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise ValueError(f"{text!r}: give 4 numbers minlon,minlat,maxlon,maxlat, e.g. 20.3,44.7,20.6,44.9")
    minlon, minlat, maxlon, maxlat = values
    if not (-180 <= minlon <= 180 and -180 <= maxlon <= 180 and -90 <= minlat <= 90 and -90 <= maxlat <= 90):
        raise ValueError(f"{text!r}: longitudes are -180..180 and latitudes -90..90 (longitude comes first)")
    if minlon > maxlon or minlat > maxlat:
        raise ValueError(f"{text!r}: a minimum exceeds its maximum; the order is minlon,minlat,maxlon,maxlat")
    return minlon, minlat, maxlon, maxlat


def parse_when(text: str, *, end: bool = False) -> dt.datetime:
    """A date (YYYY-MM-DD) or an ISO time, in UTC unless it names a zone. With ``end``, a bare date means
    the end of that day (so ``--until 2024-05-01`` keeps all of 1 May)."""
    try:
        if len(text.strip()) == 10:
            day = dt.date.fromisoformat(text.strip())
            start = dt.datetime.combine(day, dt.time(), dt.UTC)
            return start + dt.timedelta(days=1) if end else start
        when = dt.datetime.fromisoformat(text.strip())
        return when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)
    except OverflowError as exc:  # the end of 9999-12-31, or a zone that moves a time past year 1 or 9999
        raise ValueError(f"{text!r} is out of range; give a date between 0001-01-02 and 9999-12-30") from exc
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a date; write YYYY-MM-DD or YYYY-MM-DDTHH:MM") from exc
