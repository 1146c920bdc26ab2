"""`hiljade export database`: a copy of the database for researchers, with its Datasette metadata."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.exc import SQLAlchemyError

from hiljade.errors import StoreError
from hiljade.export.database import REVIEWER_COLUMNS, REVIEWER_NOTE, copied_tables, copy_database
from hiljade.export.datasette import metadata, schema_docs
from hiljade.models.store import Store
from hiljade.services.exports import replacing

SCHEMA_DOC = Path(__file__).resolve().parents[2] / "docs" / "schema.md"  # in a source checkout


@dataclass(frozen=True)
class DatabaseExport:
    """What ``export_database`` wrote."""

    path: Path
    metadata_path: Path
    rows: dict[str, int]
    described: bool  # False when the schema document was not found: the metadata has no descriptions


def metadata_path(output: Path) -> Path:
    """Where the Datasette metadata of ``output`` goes: ``FILE.metadata.json`` beside it."""
    return output.with_name(output.stem + ".metadata.json")


def export_database(store: Store, output: Path, *, schema_doc: Path = SCHEMA_DOC) -> DatabaseExport:
    """Write the researchers' copy of ``store`` to the SQLite file ``output`` (replaced whole, never
    half-written) and its Datasette metadata beside it; see ``export.database`` for what is left out.
    StoreError when the files cannot be written or the database cannot be read."""
    try:
        return _export(store, output, schema_doc)
    except OSError as exc:
        raise StoreError(f"cannot write {exc.filename or output}: {exc.strerror or exc}") from exc
    except SQLAlchemyError as exc:
        raise StoreError(f"copying {store.safe_url} to {output} failed: {exc}") from exc


def _export(store: Store, output: Path, schema_doc: Path) -> DatabaseExport:
    with replacing(output) as tmp:
        tmp.unlink()  # SQLite creates the file itself
        engine = create_engine(f"sqlite:///{tmp}")
        try:
            with store.connect() as source, engine.begin() as target:
                rows = copy_database(source, target)
        finally:
            engine.dispose()
    docs = schema_docs(schema_doc.read_text(encoding="utf-8")) if schema_doc.is_file() else {}
    tables = {t.name: [c.name for c in t.columns] for t in copied_tables().sorted_tables}
    notes = {
        (table, column): f"{docs[table].columns.get(column, '').rstrip('.')}. {REVIEWER_NOTE}".lstrip(". ")
        for table, column in REVIEWER_COLUMNS.items()
        if table in docs
    }
    described = metadata(output.stem, tables, docs, notes)
    path = metadata_path(output)
    with replacing(path) as tmp:
        tmp.write_text(json.dumps(described, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return DatabaseExport(output, path, rows, bool(docs))
