"""Read a published list of camera locations into rows: CSV (any delimiter; UTF-8, UTF-16 with a
BOM, Windows-1250 or Windows-1251, told apart by the letters they give), XLSX or GeoJSON.

The header row is the first row (of the first 30) holding the columns asked for with ``columns``
(``address``, ``lat``, ``lon``, ``coordinates``; several file columns for one key are joined by a
space, e.g. a street and a house number), or without ``columns`` the first row holding a column
whose name reads as an address, a latitude and longitude, or coordinates. Rows above it (titles)
are not rows of the list; empty rows below it are counted and skipped.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import hashlib
import io
import json
import re
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.utils.exceptions import InvalidFileException
from shapely.geometry import shape

from hiljade.errors import ListFileError
from hiljade.pipeline.official import ListRow
from hiljade.pipeline.scripts import fold

KEYS = ("address", "lat", "lon", "coordinates")
HEADER_LINES = 30
DELIMITERS = ",;\t|"
_LATIN = set("abcdefghijklmnopqrstuvwxyzčćšžđ")
_CYRILLIC = set("абвгдђежзијклљмнњопрстћуфхцчџш")
# folded header names read as each key without --columns (an address column matches by its start)
ADDRESS_WORDS = ("adresa", "lokacija", "ulica", "raskrsnica", "mesto", "address", "location", "street")
NUMBER_WORDS = ("broj", "kucni broj", "number", "housenumber")
LAT_WORDS = ("lat", "latitude", "sirina", "geografska sirina", "geo sirina", "y (lat)")
LON_WORDS = ("lon", "lng", "long", "longitude", "duzina", "geografska duzina", "geo duzina", "x (lon)")
COORDINATE_WORDS = ("koordinate", "coordinates", "gps", "gps koordinate", "lat, lon", "lat,lon")


@dataclass(frozen=True)
class ListFile:
    """The rows of a list file and how it was read."""

    rows: list[ListRow]
    empty: int  # empty rows skipped
    format: str  # csv, xlsx, geojson
    encoding: str | None = None
    delimiter: str | None = None
    header_line: int | None = None
    columns: dict[str, list[str]] = field(default_factory=dict)
    sha256: str = ""  # of the file's bytes


def parse_columns(specs: Iterable[str]) -> dict[str, list[str]]:
    """``address=Ulica+Broj,lat=Lat`` (repeatable) -> {"address": ["Ulica", "Broj"], "lat": ["Lat"]}."""
    columns: dict[str, list[str]] = {}
    for spec in specs:
        for part in (p for p in spec.split(",") if p.strip()):
            key, sep, names = part.partition("=")
            key = key.strip().lower()
            if not sep or key not in KEYS or not names.strip():
                raise ListFileError(
                    f"--columns {part.strip()}: write KEY=COLUMN with KEY one of {', '.join(KEYS)} "
                    "(e.g. address=Lokacija,lat=Latitude,lon=Longitude)"
                )
            columns[key] = [n.strip() for n in names.split("+") if n.strip()]
    return columns


def check_encoding(name: str) -> str:
    """The codec's canonical name; ListFileError for an encoding Python does not know."""
    try:
        return codecs.lookup(name).name
    except LookupError as exc:
        raise ListFileError(
            f"unknown encoding {name}; try utf-8, windows-1250 (Latin) or windows-1251 (Cyrillic)"
        ) from exc


def _script_score(text: str) -> int:
    words = re.findall(r"[^\W\d_]+", text.lower())
    return sum(1 for w in words if set(w) <= _LATIN or set(w) <= _CYRILLIC)


def decode(data: bytes, encoding: str | None = None) -> tuple[str, str]:
    """The text and the encoding it was read with: the one given, else UTF-8 (BOM or not), UTF-16
    with a BOM, or whichever of Windows-1250 and Windows-1251 gives Serbian words."""
    if encoding:
        name = check_encoding(encoding)
        try:
            return data.decode(name), name
        except UnicodeDecodeError as exc:
            raise ListFileError(f"the file is not {encoding} text (byte {exc.start} does not fit)") from exc
    if data.startswith(codecs.BOM_UTF8):
        return data[3:].decode("utf-8", errors="replace"), "utf-8"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16"), "utf-16"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    latin, cyrillic = data.decode("cp1250", errors="replace"), data.decode("cp1251", errors="replace")
    if _script_score(cyrillic) > _script_score(latin):
        return cyrillic, "windows-1251"
    return latin, "windows-1250"


def sniff_delimiter(text: str) -> str:
    """The CSV delimiter of ``text``: comma, semicolon, tab or bar."""
    sample = "\n".join(text.splitlines()[:50])
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        counts = {d: sample.count(d) for d in DELIMITERS}
        best = max(counts, key=lambda d: counts[d])
        return best if counts[best] else ","


def storable(text: str) -> str:
    """Text the store can keep: no NUL character, no lone surrogate (replaced by "?")."""
    return text.replace("\x00", "").encode("utf-8", errors="replace").decode("utf-8")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return storable(str(value)).strip()


def _folded(name: str) -> str:
    return " ".join(fold(name).replace("_", " ").split())


def _auto_columns(header: Sequence[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    folded = [(_folded(h), h) for h in header if h.strip()]
    for key, words in (("lat", LAT_WORDS), ("lon", LON_WORDS), ("coordinates", COORDINATE_WORDS)):
        names = [h for f, h in folded if f in words]
        if names:
            found[key] = names[:1]
    address = [h for f, h in folded if f.startswith(ADDRESS_WORDS)][:1]
    if address:
        number = [h for f, h in folded if f in NUMBER_WORDS][:1]
        found["address"] = address + number
    if ("lat" in found) != ("lon" in found):
        found.pop("lat", None)
        found.pop("lon", None)
    return found


def _find_header(
    table: list[tuple[int, list[str]]], columns: Mapping[str, Sequence[str]], source: str
) -> tuple[int, dict[str, list[int]], dict[str, list[str]]]:
    """(index of the header row in ``table``, key -> cell positions, key -> the column names)."""
    for index, (_, cells) in enumerate(table[:HEADER_LINES]):
        names = [_folded(c) for c in cells]
        chosen = {k: list(v) for k, v in columns.items()} if columns else _auto_columns(cells)
        if not chosen or ("address" not in chosen and "coordinates" not in chosen and "lat" not in chosen):
            continue
        if all(_folded(n) in names for ns in chosen.values() for n in ns):
            positions = {k: [names.index(_folded(n)) for n in ns] for k, ns in chosen.items()}
            return index, positions, chosen
    shown = next((cells for _, cells in table if any(cells)), [])
    have = ", ".join(c for c in shown if c) or "none"
    if columns:
        wanted = ", ".join(n for ns in columns.values() for n in ns)
        raise ListFileError(
            f"{source}: no row in the first {HEADER_LINES} lines has the columns {wanted}; "
            f"the first row's columns are: {have}"
        )
    raise ListFileError(
        f"{source}: no column reads as an address, coordinates, or latitude and longitude in the first "
        f"{HEADER_LINES} lines (the first row's columns are: {have}); name them with "
        "--columns address=NAME or --columns lat=NAME,lon=NAME"
    )


def _rows(
    table: list[tuple[int, list[str]]], columns: Mapping[str, Sequence[str]], source: str
) -> tuple[list[ListRow], int, int, dict[str, list[str]]]:
    index, positions, chosen = _find_header(table, columns, source)
    rows, empty = [], 0
    for line, cells in table[index + 1 :]:
        if not any(c.strip() for c in cells):
            empty += 1
            continue
        values = {
            k: " ".join(cells[p].strip() for p in ps if p < len(cells) and cells[p].strip())
            for k, ps in positions.items()
        }
        original = " | ".join(c.strip() for c in cells if c.strip())
        rows.append(ListRow(line=line, original=original, **values))
    return rows, empty, table[index][0], chosen


def _csv_table(text: str, delimiter: str) -> list[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    table, last = [], 0
    for cells in reader:
        table.append((last + 1, [storable(c) for c in cells]))
        last = reader.line_num
    return table


def _read_csv(
    path: Path, data: bytes, columns: Mapping[str, Sequence[str]], encoding: str | None
) -> ListFile:
    try:
        text, used = decode(data, encoding)
    except ListFileError as exc:
        raise ListFileError(f"{path}: {exc}") from exc
    delimiter = sniff_delimiter(text)
    try:
        table = _csv_table(text, delimiter)
    except csv.Error as exc:
        raise ListFileError(f"{path}: not a readable CSV file: {exc}") from exc
    rows, empty, header, chosen = _rows(table, columns, str(path))
    return ListFile(rows, empty, "csv", used, delimiter, header, chosen)


def _read_xlsx(path: Path, columns: Mapping[str, Sequence[str]]) -> ListFile:
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        sheet = book.worksheets[0]
        table = [(i, [_cell(v) for v in row]) for i, row in enumerate(sheet.iter_rows(values_only=True), 1)]
        book.close()
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError, IndexError) as exc:
        raise ListFileError(f"{path}: not a readable XLSX workbook ({exc})") from exc
    rows, empty, header, chosen = _rows(table, columns, str(path))
    return ListFile(rows, empty, "xlsx", None, None, header, chosen)


def _features(path: Path, data: bytes) -> list[Mapping[str, Any]]:
    try:
        doc = json.loads(decode(data)[0])
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ListFileError(f"{path}: not readable JSON: {exc}") from exc
    if isinstance(doc, dict) and doc.get("type") == "Feature":
        return [doc]
    features = doc.get("features") if isinstance(doc, dict) else None
    if not isinstance(features, list):
        raise ListFileError(f"{path}: not a GeoJSON FeatureCollection (no list of features)")
    return [f if isinstance(f, dict) else {} for f in features]


def _point(feature: Mapping[str, Any]) -> tuple[float, float] | None:
    geometry = feature.get("geometry")
    if not isinstance(geometry, dict):
        return None
    try:
        centre = shape(geometry).representative_point()
    except (ValueError, TypeError, KeyError, AttributeError, IndexError):
        return None
    return None if centre.is_empty else (centre.y, centre.x)


def _read_geojson(path: Path, data: bytes, columns: Mapping[str, Sequence[str]]) -> ListFile:
    features = _features(path, data)
    props = [f.get("properties") if isinstance(f.get("properties"), dict) else {} for f in features]
    names = list(dict.fromkeys(str(k) for p in props for k in p))
    chosen = {k: list(v) for k, v in columns.items()} if columns else _auto_columns(names)
    folded = {_folded(n): n for n in names}
    missing = [n for ns in chosen.values() for n in ns if _folded(n) not in folded]
    if columns and missing:
        raise ListFileError(
            f"{path}: no property named {', '.join(missing)}; the features' properties are: "
            f"{', '.join(names) or 'none'}"
        )
    rows = []
    for line, (feature, prop) in enumerate(zip(features, props, strict=True), 1):
        values = {
            k: " ".join(_cell(prop.get(folded[_folded(n)])) for n in ns if _folded(n) in folded).strip()
            for k, ns in chosen.items()
        }
        original = storable(json.dumps(feature, ensure_ascii=False, sort_keys=True))
        rows.append(ListRow(line=line, original=original, point=_point(feature), **values))
    return ListFile(rows, 0, "geojson", None, None, None, chosen)


def list_format(path: Path, head: bytes) -> str:
    """``csv``, ``xlsx`` or ``geojson``, by the file's name, else by its first bytes."""
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm") or head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if suffix in (".geojson", ".json") or head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        return "geojson"
    return "csv"


def read_list(
    path: Path, *, columns: Mapping[str, Sequence[str]] | None = None, encoding: str | None = None
) -> ListFile:
    """The rows of the list at ``path`` (see the module docstring); ListFileError when unreadable."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ListFileError(f"{path}: cannot read the file: {exc.strerror or exc}") from exc
    kind = list_format(path, data[:64])
    if kind == "xlsx":
        read = _read_xlsx(path, columns or {})
    elif kind == "geojson":
        read = _read_geojson(path, data, columns or {})
    else:
        read = _read_csv(path, data, columns or {}, encoding)
    return dataclasses.replace(read, sha256=hashlib.sha256(data).hexdigest())
