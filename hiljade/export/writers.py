"""Row writers shared by every export: spreadsheet-safe CSV and JSON lines."""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TextIO

# A cell starting with one of these runs as a formula in Excel, LibreOffice or Google Sheets.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\0")


def neutralise(value: Any) -> Any:
    """A CSV cell that a spreadsheet shows as text: a leading formula character gets a quote in front."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, list | tuple | dict):
        return json.dumps(value, ensure_ascii=False)
    return value


def write_csv(
    rows: Iterable[Mapping[str, Any]], fields: Sequence[str], out: TextIO, *, excel: bool = False
) -> int:
    """RFC 4180 CSV (UTF-8, CRLF, quoted when needed), formula cells neutralised; returns the row count."""
    if excel:
        out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(fields)
    count = 0
    for row in rows:
        writer.writerow([neutralise(_cell(row.get(f))) for f in fields])
        count += 1
    return count


def write_jsonl(rows: Iterable[Mapping[str, Any]], fields: Sequence[str], out: TextIO) -> int:
    """One JSON object per line with ``fields``; returns the row count."""
    count = 0
    for row in rows:
        obj = {f: row.get(f) for f in fields}
        out.write(json.dumps(obj, ensure_ascii=False, default=_json_default) + "\n")
        count += 1
    return count


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")
