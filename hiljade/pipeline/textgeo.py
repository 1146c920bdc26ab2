"""Positions written into post text: map links, geo: URIs, decimal/DMS coordinates and plus codes.

Pure functions over a string; every result is a ``Candidate`` with the character span it came from.
Short links (goo.gl, maps.app.goo.gl, t.co) and OSM element links (/node/ID) need the network to
resolve, so they are ignored rather than guessed.
"""

from __future__ import annotations

import math
import re
from typing import Any, Final
from urllib.parse import parse_qs, unquote, urlsplit

import shapely
from openlocationcode import openlocationcode as olc

from hiljade.pipeline.geometry import NOMINAL_M_PER_DEG, cell_diagonal_m, valid_position
from hiljade.records import Candidate

MIN_PRECISION_M: Final = 10.0  # a point typed or clicked by a person is no better than this
AUTO_MAX_PRECISION_M: Final = 100.0  # coarser candidates are left for review
VIEW_PIXELS: Final = 20  # how far (screen pixels) a map centre may sit from what the poster meant

_URL: Final = re.compile(
    r"(?:https?://|(?<![\w.@/-])(?=(?:www\.)?(?:maps\.google\.|google\.[a-z.]{2,6}/maps|openstreetmap\.org"
    r"|osm\.org|maps\.apple\.com)))[^\s<>\"\[\]{}|\\^`]+",
    re.I,
)
_NUMBER: Final = re.compile(r"[-+−]?(?:\d+(?:[.,]\d*)?|[.,]\d+)")  # a number _float reads
_DEC_PAIR: Final = re.compile(r"(?:loc:)?\s*([-−]?\d{1,3}\.\d+)\s*,\s*([-−]?\d{1,3}\.\d+)")
_GEO_URI: Final = re.compile(
    r"(?<![\w/])geo:\s?([-−]?\d{1,3}(?:\.\d+)?),\s?([-−]?\d{1,3}(?:\.\d+)?)(?:,[-−]?\d+(?:\.\d+)?)?"
    r"((?:;[a-z0-9-]+=[^;\s?#]*)*)(?:\?q=([^\s#]+))?",
    re.I,
)
_OLC: Final = "23456789CFGHJMPQRVWX"
_PLUS_CODE: Final = re.compile(rf"(?<![\w#+@])([{_OLC}]{{4,8}}0*\+[{_OLC}]{{0,3}})(?![\w+])", re.I)

_HEMI: Final = "NSEWJIZСЈИЗ"  # English letters, Serbian Latin (S=sever, J=jug, I=istok, Z=zapad) and Cyrillic
_SERBIAN_HEMI: Final = set("JIZСЈИЗ")
_LAT_HEMI: Final = set("NSJСЈ")


def _atom(i: int) -> str:
    return (
        rf"(?:(?P<pre{i}>[{_HEMI}])\s?)?(?P<sign{i}>[-−])?(?P<deg{i}>\d{{1,3}}(?:(?P<dsep{i}>[.,])\d+)?)"
        rf"(?P<dms{i}>\s?[°º˚]\s?(?:(?P<min{i}>\d{{1,2}}(?:[.,]\d+)?)\s?['′’´]\s?"
        rf"(?:(?P<sec{i}>\d{{1,2}}(?:[.,]\d+)?)\s?(?:\"|″|”|''|′′|’’))?)?)?"
        rf"(?:\s?(?P<post{i}>[{_HEMI}])(?![^\W\d_]))?"
    )


_TEXT_PAIR: Final = re.compile(
    rf"(?<![\w.,#@=/:+\-−°'′\"″]){_atom(1)}(?P<sep>\s*[,;/]\s*|\s+){_atom(2)}(?![\w°′″'\"]|[.,]\d)"
)
_DECIMAL: Final = re.compile(r"[.,](?<=\d[.,])\d")  # typed coordinates: decimals, or a degree sign
_LABEL: Final = re.compile(
    r"koordinat|координат|gps|lokacij|локациј|pozicij|позициј|coord|location|\blat\b|📍", re.I
)


def find_coordinates(
    text: str, *, area: Any = None, reference: tuple[float, float] | None = None, every_reader: bool = False
) -> list[Candidate]:
    """Every position written into ``text``, in text order; ``area`` is a shapely lon/lat geometry.

    Each reader runs only when the text holds what it needs (``every_reader``: each runs anyway): a
    link its "://" or a map site's name (``ſ`` is an ``s`` to the case-blind pattern, so it lets links
    through too), a geo: URI its "geo:", typed coordinates decimals or a degree sign, a plus code "+"."""
    low = text.lower() if "." in text or ":" in text else ""  # each site _URL knows has a ".", geo: a ":"
    link = every_reader or "://" in text or "\u017f" in text or "google." in low or "osm.org" in low
    link = link or "openstreetmap.org" in low or "maps.apple.com" in low
    geo, plus = every_reader or "geo:" in low, every_reader or "+" in text
    pair = every_reader or "°" in text or "º" in text or "˚" in text or _DECIMAL.search(text) is not None
    found: list[Candidate] = []
    masked = text
    for match in _URL.finditer(text) if link else ():  # every reader below checks its position
        url = _trim_url(match.group(0))
        span = (match.start(), match.start() + len(url))
        masked = masked[: span[0]] + " " * len(url) + masked[span[1] :]
        hit = _link_point(url if "://" in url else "https://" + url)
        if hit is not None:
            found.append(_candidate(text, span, "map_link", hit, area))
    for match in _GEO_URI.finditer(masked) if geo else ():
        hit = _geo_uri(match)
        masked = masked[: match.start()] + " " * (match.end() - match.start()) + masked[match.end() :]
        if hit is not None:
            found.append(_candidate(text, match.span(), "map_link", hit, area))
    for match in _PLUS_CODE.finditer(text) if plus else ():
        hit = _plus_code(match.group(1), reference)
        if hit is not None:
            found.append(_candidate(text, match.span(1), "plus_code", hit, area))
        masked = masked[: match.start()] + " " * (match.end() - match.start()) + masked[match.end() :]
    for match in _TEXT_PAIR.finditer(masked) if pair else ():
        hit = _text_pair(match.groupdict(), masked, match.start(), area)  # labels inside links do not count
        if hit is not None:
            found.append(_candidate(text, match.span(), "coordinates", hit, area))
    if len(found) > 1:
        found.sort(key=lambda c: c.span or (0, 0))
    return found


def _candidate(text: str, span: tuple[int, int], method: str, hit: dict[str, Any], area: Any) -> Candidate:
    lat, lon, precision = hit.pop("lat"), hit.pop("lon"), hit.pop("precision_m")
    confidence = hit.pop("confidence", 0.9)
    if area is not None:
        hit["in_area"] = _inside(area, lat, lon)
    return Candidate(
        lat=round(lat, 7),
        lon=round(lon, 7),
        method=method,
        precision_m=round(precision, 1),
        confidence=confidence,
        status="auto" if precision <= AUTO_MAX_PRECISION_M else "pending_review",
        matched=text[span[0] : span[1]],
        span=span,
        source=hit.pop("source"),
        evidence=hit,
    )


def _inside(area: Any, lat: float, lon: float) -> bool:
    return bool(shapely.intersects_xy(area, lon, lat))


def cell_precision(lat: float, dlat_deg: float, dlon_deg: float, *, floor: float = MIN_PRECISION_M) -> float:
    """Half the diagonal (metres) of a lat/lon cell of the given size, never below ``floor``."""
    return max(floor, cell_diagonal_m(lat, dlat_deg, dlon_deg, m_per_deg=NOMINAL_M_PER_DEG) / 2)


def _decimals(*numbers: str) -> int:
    return min(len(re.split(r"[.,]", n)[1]) if re.search(r"[.,]", n) else 0 for n in numbers)


def _float(number: str) -> float:
    return float(number.replace("−", "-").replace(",", "."))


def _point(lat_s: str, lon_s: str, source: str, kind: str, confidence: float) -> dict[str, Any] | None:
    lat, lon = _float(lat_s), _float(lon_s)
    if not valid_position(lat, lon):
        return None
    digits = _decimals(lat_s, lon_s)
    unit = 10.0**-digits
    return {
        "lat": lat,
        "lon": lon,
        "precision_m": cell_precision(lat, unit, unit),
        "confidence": confidence,
        "source": source,
        "kind": kind,
        "decimals": digits,
    }


# --- map links -----------------------------------------------------------------------------------


def _trim_url(url: str) -> str:
    while url and url[-1] in ".,;:!?»”’…)'":
        if url[-1] == ")" and url.count("(") >= url.count(")"):
            break
        url = url[:-1]
    return url


def _link_point(url: str) -> dict[str, Any] | None:
    """The position a map URL points at, or None (unknown site, short link, element link)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    host = (parts.hostname or "").lower().removeprefix("www.")
    query = parse_qs(parts.query)
    google = re.fullmatch(r"(maps\.)?google\.[a-z.]+", host)
    if google and (host.startswith("maps.") or parts.path.startswith("/maps")):
        return _google(url, parts.path, query)
    if host in ("openstreetmap.org", "osm.org"):
        return _osm(query, parse_qs(parts.fragment))
    if host == "maps.apple.com":
        for key in ("ll", "coordinate", "q", "sll", "center"):
            hit = _query_pair(query, key, "apple", "apple_" + key, 0.9)
            if hit:
                return hit
    return None


def _query_pair(
    query: dict[str, list[str]], key: str, site: str, kind: str, conf: float
) -> dict[str, Any] | None:
    """The coordinates in query parameter ``key`` ("lat,lon" or a DMS pair), if any."""
    for value in query.get(key, []):
        pair = _DEC_PAIR.match(value)
        if pair:
            return _point(pair.group(1), pair.group(2), f"{site}:{key}", kind, conf)
        dms = _TEXT_PAIR.search(value)
        if dms and dms.group("dms1") and dms.group("dms2"):
            hit = _text_pair(dms.groupdict(), value, dms.start(), None, source=f"{site}:{key}")
            return None if hit is None else {**hit, "kind": kind}
    return None


def _google(url: str, path: str, query: dict[str, list[str]]) -> dict[str, Any] | None:
    decoded = unquote(url)
    pin = re.search(r"!3d([-−]?\d{1,3}\.\d+)!4d([-−]?\d{1,3}\.\d+)", decoded)
    if pin:
        return _point(pin.group(1), pin.group(2), "google:pin", "google_pin", 0.95)
    pin = re.search(r"!2d([-−]?\d{1,3}\.\d+)!3d([-−]?\d{1,3}\.\d+)", decoded)
    if pin:
        return _point(pin.group(2), pin.group(1), "google:pin", "google_pin", 0.95)
    for key in ("q", "query", "ll", "center", "destination", "daddr"):
        hit = _query_pair(query, key, "google", "google_query", 0.9)
        if hit:
            return hit
    segment = re.search(r"/maps/(?:search|place)/([^/@]+)", path)
    if segment:
        value = unquote(segment.group(1)).replace("+", " ")
        hit = _query_pair({"path": [value]}, "path", "google", "google_path", 0.9)
        if hit:
            return hit
    view = re.search(r"@([-−]?\d{1,3}\.\d+),([-−]?\d{1,3}\.\d+)(?:,(\d+(?:\.\d+)?)([zm]))?", path)
    if view:
        hit = _point(view.group(1), view.group(2), "google:view", "google_view", 0.85)
        if hit and view.group(3):
            size = float(view.group(3))
            if view.group(4) == "z":
                hit["zoom"] = size
                size = VIEW_PIXELS * 156_543.03 * math.cos(math.radians(hit["lat"])) / 2**size
            else:
                size = size / 20  # "150m" is the height of the view
            hit["precision_m"] = max(hit["precision_m"], size)
        return hit
    return None


def _osm(query: dict[str, list[str]], fragment: dict[str, list[str]]) -> dict[str, Any] | None:
    marker = query.get("mlat", [""])[0], query.get("mlon", [""])[0]
    if all(map(_NUMBER.fullmatch, marker)):  # "mlon=20.46skoj" is no marker
        return _point(*marker, "osm:marker", "osm_marker", 0.95)
    map_param = (fragment.get("map") or [""])[0]
    view = re.fullmatch(r"(\d{1,2})/([-−]?\d{1,3}\.\d+)/([-−]?\d{1,3}\.\d+)", map_param)
    zoom, lat_s, lon_s = view.groups() if view else ((query.get("zoom") or ["0"])[0], *_query_latlon(query))
    if not lat_s or not lon_s:
        return None
    hit = _point(lat_s, lon_s, "osm:view", "osm_view", 0.85)
    if hit and zoom.isdigit() and int(zoom) > 0:
        hit["zoom"] = int(zoom)
        size = VIEW_PIXELS * 156_543.03 * math.cos(math.radians(hit["lat"])) / 2 ** int(zoom)
        hit["precision_m"] = max(hit["precision_m"], size)
    return hit


def _query_latlon(query: dict[str, list[str]]) -> tuple[str, str]:
    lat, lon = (query.get("lat") or [""])[0], (query.get("lon") or [""])[0]
    numeric = re.fullmatch(r"[-−]?\d{1,3}\.\d+", lat) and re.fullmatch(r"[-−]?\d{1,3}\.\d+", lon)
    return (lat, lon) if numeric else ("", "")


def _geo_uri(match: re.Match[str]) -> dict[str, Any] | None:
    lat_s, lon_s, params, q = match.groups()
    if _float(lat_s) == 0 and _float(lon_s) == 0 and q:
        pair = _DEC_PAIR.match(unquote(q))
        if not pair:
            return None
        lat_s, lon_s = pair.groups()
    hit = _point(lat_s, lon_s, "geo:uri", "geo_uri", 0.95)
    uncertainty = re.search(r";u=(\d+(?:\.\d+)?)", params or "", re.I)
    if hit and uncertainty:
        hit["uncertainty_m"] = float(uncertainty.group(1))
        hit["precision_m"] = max(MIN_PRECISION_M, float(uncertainty.group(1)))
    return hit


# --- plus codes ----------------------------------------------------------------------------------


def _plus_code(code: str, reference: tuple[float, float] | None) -> dict[str, Any] | None:
    code = code.upper()
    if not olc.isValid(code):
        return None
    evidence: dict[str, Any] = {"code": code}
    if olc.isShort(code):
        if reference is None:
            return None
        evidence.update(short=True, reference=list(reference))
        code = olc.recoverNearest(code, reference[0], reference[1])
    elif not olc.isFull(code):
        return None
    area = olc.decode(code)
    lat, lon = area.latitudeCenter, area.longitudeCenter
    size = (area.latitudeHi - area.latitudeLo, area.longitudeHi - area.longitudeLo)
    precision = cell_precision(lat, *size, floor=0.0)  # exactly half the cell diagonal
    evidence.update(full_code=code, code_length=area.codeLength, kind="plus_code")
    return {
        "lat": lat,
        "lon": lon,
        "precision_m": precision,
        "confidence": 0.9,
        "source": f"olc:{code}",
        **evidence,
    }


# --- coordinates typed in text -------------------------------------------------------------------


def _atom_value(groups: dict[str, str | None], i: int) -> tuple[float, str | None, float, int] | None:
    """(absolute degrees, hemisphere letter, last unit in degrees, decimals of that unit) of atom i."""
    deg_s, min_s, sec_s = str(groups[f"deg{i}"]), groups[f"min{i}"], groups[f"sec{i}"]
    letter = groups[f"pre{i}"] or groups[f"post{i}"]
    degrees = _float(deg_s)
    if min_s is not None and groups[f"dsep{i}"]:
        return None  # decimal degrees followed by minutes is not a coordinate
    minutes = _float(min_s) if min_s else 0.0
    seconds = _float(sec_s) if sec_s else 0.0
    if minutes >= 60 or seconds >= 60:
        return None
    last, scale = (sec_s, 3600) if sec_s else (min_s, 60) if min_s else (deg_s, 1)
    digits = _decimals(last)
    return degrees + minutes / 60 + seconds / 3600, letter, 10.0**-digits / scale, digits


def _text_pair(
    groups: dict[str, str | None], text: str, start: int, area: Any, *, source: str | None = None
) -> dict[str, Any] | None:
    """A lat/lon from the groups of a matched pair of typed coordinates, or None when it is not one."""
    if groups["pre1"] and groups["post1"] and not groups["pre2"] and not groups["post2"]:
        groups = {**groups, "pre2": groups["post1"], "post1": None}  # "N 44.8 E 20.4": E starts atom 2
    first, second = _atom_value(groups, 1), _atom_value(groups, 2)
    if first is None or second is None or any(groups[f"pre{i}"] and groups[f"post{i}"] for i in (1, 2)):
        return None
    dms = bool(groups["dms1"] or groups["dms2"])
    letters = [first[1], second[1]]
    comma = groups["dsep1"] == "," or groups["dsep2"] == ","
    if comma and (groups["dsep1"] != groups["dsep2"] or groups["sep"] == ","):
        return None  # "44,8157,20,4623" or mixed separators: ambiguous
    if not dms and (not groups["dsep1"] or not groups["dsep2"]):
        return None  # plain integers are never coordinates
    values = [first[0], second[0]]
    signs = [-1.0 if groups[f"sign{i}"] else 1.0 for i in (1, 2)]
    evidence: dict[str, Any] = {"kind": "dms" if dms else "decimal"}
    if any(letters):
        axes = _axes(letters)
        if axes is None:
            return None
        serbian = any(x in _SERBIAN_HEMI for x in letters if x)
        signed = [
            v * (-1.0 if _negative(x, serbian) else s) for v, x, s in zip(values, letters, signs, strict=True)
        ]
        lat, lon = (signed[0], signed[1]) if axes == "latlon" else (signed[1], signed[0])
        if axes == "lonlat":
            evidence["swapped"] = "hemisphere letters give longitude first"
    else:
        lat, lon = values[0] * signs[0], values[1] * signs[1]
        if not valid_position(lat, lon) and valid_position(lon, lat):
            lat, lon, evidence["swapped"] = lon, lat, "latitude out of range"
        elif area is not None and not _inside(area, lat, lon) and _inside(area, lon, lat):
            lat, lon, evidence["swapped"] = lon, lat, "the swapped pair falls inside the area"
    if not valid_position(lat, lon):
        return None
    digits = min(first[3], second[3])
    if not (any(letters) or dms) and digits < _required_decimals(text, start, area, lat, lon):
        return None
    evidence["decimals"] = digits
    unit = max(first[2], second[2])
    confidence = 0.8 if "swapped" in evidence and not any(letters) else 0.9
    precision = cell_precision(lat, unit, unit)
    return {
        "lat": lat,
        "lon": lon,
        "precision_m": precision,
        "confidence": confidence,
        "source": source or f"text:{evidence['kind']}",
        **evidence,
    }


def _required_decimals(text: str, start: int, area: Any, lat: float, lon: float) -> int:
    """Bare number pairs need 4 decimals; 3 inside the area; 2 after a word like 'koordinate'."""
    if _LABEL.search(text[max(0, start - 40) : start]):
        return 2
    if area is not None and _inside(area, lat, lon):
        return 3
    return 4


def _axes(letters: list[str | None]) -> str | None:
    kinds = [None if x is None else ("lat" if x in _LAT_HEMI else "lon") for x in letters]
    if kinds[0] == kinds[1]:
        return None
    return "latlon" if kinds[0] == "lat" or kinds[1] == "lon" else "lonlat"


def _negative(letter: str | None, serbian: bool) -> bool:
    if letter is None:
        return False
    if serbian:
        return letter in "JЈZЗW"
    return letter in "SW"
