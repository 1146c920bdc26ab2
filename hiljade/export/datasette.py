"""Datasette metadata for the researchers' copy: titles, table and column descriptions taken from the
schema document (``docs/schema.md``), the licence and the OpenStreetMap attribution. Pure."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hiljade.export.licence import ATTRIBUTION, ATTRIBUTION_URL, LICENCE, LICENCE_URL

TITLE = "hiljade: reports of surveillance cameras"
DESCRIPTION = (
    "A copy of a hiljade database for research: posts that report surveillance cameras, where they "
    "were placed, and the camera sites. Without raw payloads, post addresses, handles or reviewer "
    f"names; authors appear only as keyed pseudonyms. Positions use OpenStreetMap data: {ATTRIBUTION}."
)
_GENERIC = {"id": "row number, stable; other tables point here"}
_EMPHASIS = re.compile(r"(?<![\w(])\*([^*\s][^*]*?)\*(?!\w)")
_HEADING = re.compile(r"^##\s+(\S+)\s*$")
_ROW = re.compile(r"^\|(.+?)\|(.+)\|\s*$")


@dataclass(frozen=True)
class TableDoc:
    """What the schema document says about one table."""

    description: str = ""
    columns: dict[str, str] = field(default_factory=dict)


def plain(text: str) -> str:
    """Markdown inline code and emphasis as plain text (Datasette shows descriptions as text)."""
    return _EMPHASIS.sub(r"\1", text.replace("`", "").replace("**", "")).strip()


def schema_docs(markdown: str) -> dict[str, TableDoc]:
    """Per table (a ``## name`` section): its introduction and its ``| column | meaning |`` rows;
    a row naming several columns (``lat, lon``) describes each of them."""
    docs: dict[str, TableDoc] = {}
    table: str | None = None
    intro: list[str] = []
    for line in markdown.splitlines():
        heading = _HEADING.match(line)
        if heading:
            table, intro = heading.group(1), []
            docs[table] = TableDoc()
            continue
        if table is None:
            continue
        row = _ROW.match(line)
        if row:
            names, meaning = row.group(1).strip(), row.group(2).strip()
            if names in ("column", "---") or set(names) <= {"-", " "}:
                continue
            for name in (n.strip() for n in names.split(",")):
                docs[table].columns[name] = plain(meaning)
        elif line.strip() and not line.startswith(("|", "```")) and not docs[table].columns:
            intro.append(line.strip())
            docs[table] = TableDoc(plain(" ".join(intro)), docs[table].columns)
    return docs


def metadata(
    database: str,
    tables: Mapping[str, Sequence[str]],
    docs: Mapping[str, TableDoc],
    overrides: Mapping[tuple[str, str], str] = {},  # noqa: B006 - read only
) -> dict[str, Any]:
    """The ``metadata.json`` Datasette reads (``datasette FILE --metadata FILE.metadata.json``):
    the licence and attribution for every page, a description of each table and its columns."""
    described: dict[str, Any] = {}
    for name, columns in tables.items():
        doc = docs.get(name, TableDoc())
        entry: dict[str, Any] = {
            "description": doc.description,
            "license": LICENCE,
            "license_url": LICENCE_URL,
        }
        texts = {c: overrides.get((name, c)) or doc.columns.get(c) or _GENERIC.get(c, "") for c in columns}
        entry["columns"] = {c: text for c, text in texts.items() if text}
        described[name] = entry
    return {
        "title": TITLE,
        "description": DESCRIPTION,
        "license": LICENCE,
        "license_url": LICENCE_URL,
        "source": ATTRIBUTION,
        "source_url": ATTRIBUTION_URL,
        "databases": {database: {"title": TITLE, "description": DESCRIPTION, "tables": described}},
    }
