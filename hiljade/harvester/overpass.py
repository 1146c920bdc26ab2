"""``hiljade gazetteer fetch``: download the area's OSM names from Overpass into one JSON file.

Only fetching lives here; ``osm_readers`` turns the file into gazetteer features. The file is
written atomically, so a failed or interrupted download never replaces a good one.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
from html import unescape
from pathlib import Path
from typing import BinaryIO

import requests

from hiljade.errors import ConfigError, SourceUnavailable, http_error
from hiljade.harvester.deadline import check_deadline, request_deadline
from hiljade.harvester.http import HttpSession, network_errors

OVERPASS_URL = "https://overpass-api.de/api/interpreter"
CONNECT_TIMEOUT = 30.0
READ_GRACE = 60.0  # Overpass may take its whole [timeout:] before it sends the first byte
DOWNLOAD_GRACE = 600.0  # the whole answer: [timeout:] + READ_GRACE + this, however slowly it trickles
CHUNK = 1 << 20
POI_KEYS = ("amenity", "tourism", "historic", "shop", "public_transport")
PLACE_AREAS = "^(suburb|neighbourhood|quarter)$"

log = logging.getLogger(__name__)


def check_bbox(area_bbox: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """Check a (min_lon, min_lat, max_lon, max_lat) box, the order of shapely ``.bounds``."""
    try:
        min_lon, min_lat, max_lon, max_lat = (float(v) for v in area_bbox)
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            [f"area bbox: give four numbers (min_lon, min_lat, max_lon, max_lat), got {area_bbox!r}"]
        ) from exc
    problems = []
    if not (-180 <= min_lon < max_lon <= 180):
        problems.append(
            f"area bbox: longitudes must satisfy -180 <= min_lon < max_lon <= 180 (got {min_lon}, {max_lon})"
        )
    if not (-90 <= min_lat < max_lat <= 90):
        problems.append(
            f"area bbox: latitudes must satisfy -90 <= min_lat < max_lat <= 90 (got {min_lat}, {max_lat})"
        )
    if problems:
        raise ConfigError(problems)
    return min_lon, min_lat, max_lon, max_lat


def overpass_query(area_bbox: tuple[float, float, float, float], *, timeout: float = 180) -> str:
    """The Overpass QL for the area: named streets and places, POIs, addresses, districts."""
    min_lon, min_lat, max_lon, max_lat = check_bbox(area_bbox)
    statements = [
        'way["highway"]["name"];',  # named streets, incl. pedestrian streets and squares drawn as ways
        'relation["highway"="pedestrian"]["name"];',  # pedestrian areas mapped as multipolygons
        'node["place"="square"];',
        'way["place"="square"];',
        'relation["place"="square"];',
    ]
    for key in POI_KEYS:
        statements += [f'node["{key}"]["name"];', f'way["{key}"]["name"];']
    statements += [
        'node["addr:housenumber"];',
        'way["addr:housenumber"];',
        'relation["boundary"="administrative"]["admin_level"~"^(9|10)$"];',
        f'node["place"~"{PLACE_AREAS}"];',
        f'way["place"~"{PLACE_AREAS}"];',
        f'relation["place"~"{PLACE_AREAS}"];',
    ]
    body = "\n".join(f"  {s}" for s in statements)
    bbox = f"{min_lat},{min_lon},{max_lat},{max_lon}"  # Overpass order: south,west,north,east
    return f"[out:json][timeout:{int(timeout)}][bbox:{bbox}];\n(\n{body}\n);\nout geom qt;\n"


def fetch_overpass(
    area_bbox: tuple[float, float, float, float],
    *,
    url: str = OVERPASS_URL,
    user_agent: str,
    out: Path,
    timeout: float = 180,
    session: requests.Session | None = None,
    query: str | None = None,
) -> Path:
    """POST the area query (or ``query``, e.g. the surveillance nodes') to ``url`` and write the checked
    Overpass JSON to ``out`` atomically."""
    if not isinstance(user_agent, str) or not user_agent.strip():
        raise ConfigError(["user_agent: required for Overpass; name this installation and a contact"])
    query = query or overpass_query(area_bbox, timeout=timeout)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent)
    tmp = Path(tmp_name)
    own = session is None
    session = session or HttpSession(user_agent=user_agent.strip())
    try:
        with os.fdopen(fd, "wb") as fh:
            _download(session, url, query, user_agent.strip(), timeout, fh)
            fh.flush()
            os.fsync(fh.fileno())
        count = check_overpass_file(tmp, url)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        if own:
            session.close()
    log.info("overpass: wrote %d elements to %s", count, out)
    return out


def _download(
    session: requests.Session, url: str, query: str, user_agent: str, timeout: float, fh: BinaryIO
) -> None:
    headers = {"User-Agent": user_agent, "Accept": "application/json"}
    with network_errors(f"Overpass at {url} timed out", f"cannot reach Overpass at {url}"):
        with request_deadline(timeout + READ_GRACE + DOWNLOAD_GRACE):  # headers and body
            response = session.post(
                url,
                data={"data": query},
                headers=headers,
                stream=True,
                timeout=(CONNECT_TIMEOUT, timeout + READ_GRACE),
            )
        with response:
            _raise_for_status(response, url)
            try:
                for chunk in response.iter_content(CHUNK):
                    fh.write(chunk)
            except requests.RequestException as exc:
                check_deadline(response, exc)  # cut off by the deadline: say so
                raise
            check_deadline(response)  # a body without a length ends quietly when the deadline shuts it


def _raise_for_status(response: requests.Response, url: str) -> None:
    """An error status raises the error of its status, worded for Overpass."""
    status = response.status_code
    if status < 400:
        return
    detail = _error_text(response.text)
    busy = (f"Overpass at {url} is overloaded or timed out (HTTP {status}); "
            f"retry later or use another instance. {detail}")
    raise http_error(
        status,
        f"Overpass at {url} answered HTTP {status}. {detail}",
        headers=response.headers,
        messages={
            429: f"Overpass at {url} refused: too many requests (429); wait and retry. {detail}",
            502: busy, 503: busy, 504: busy,
            400: f"Overpass rejected the query (HTTP 400): {detail}",
        },
        kinds={400: "bad_query"},
    )


def _error_text(body: str) -> str:
    """The error lines of an Overpass HTML error page, as plain text."""
    text = unescape(re.sub(r"<[^>]+>", " ", body or ""))
    lines = [" ".join(line.split()) for line in text.splitlines()]
    errors = [line for line in lines if line.lower().startswith(("error", "runtime error"))]
    return "; ".join(errors or [line for line in lines if line])[:500]


def check_overpass_file(path: Path, url: str = "") -> int:
    """Check that ``path`` holds complete Overpass JSON; return its number of elements."""
    try:
        with open(path, "rb") as fh:
            data = json.load(fh)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        with open(path, "rb") as fh:
            head = fh.read(200).decode("utf-8", "replace")
        raise SourceUnavailable(
            f"Overpass at {url} answered something that is not JSON: {head!r}", kind="bad_response"
        ) from exc
    if not isinstance(data, dict) or not isinstance(data.get("elements"), list):
        raise SourceUnavailable(
            f"Overpass at {url} answered JSON without an 'elements' list", kind="bad_response"
        )
    remark = str(data.get("remark") or "")
    if "error" in remark.lower():  # e.g. "runtime error: Query timed out" after a 200 with partial data
        raise SourceUnavailable(f"Overpass at {url} stopped early: {remark}", kind="incomplete")
    return len(data["elements"])
