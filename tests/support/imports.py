"""A database ready for the import tests: initialised, with a one-street gazetteer."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import cli
from tests.support.config import write_config
from tests.support.places import AREA, STREET


def prepared(tmp_path: Path, db_url: str, *, cap: int = 200_000, area: bool = True) -> Path:
    """An initialised database with a one-street gazetteer; returns the config path."""
    (tmp_path / "street.geojson").write_text(json.dumps(STREET), encoding="utf-8")
    extra = {"imports__max_attachment_bytes": cap}
    if area:
        (tmp_path / "area.geojson").write_text(json.dumps(AREA), encoding="utf-8")
        extra["area__boundary"] = str(tmp_path / "area.geojson")
    config = write_config(tmp_path, db_url, [], **extra)
    assert cli(config, "init")[0] == 0
    code, _, err = cli(config, "gazetteer", "build", str(tmp_path / "street.geojson"))
    assert code == 0, err
    return config
