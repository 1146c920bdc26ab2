"""A configuration file for tests."""

from __future__ import annotations

from pathlib import Path

import yaml


def write_config(directory: Path, db_url: str, servers: list, **extra: object) -> Path:
    """A config file for tests: the given servers, no pacing, a fixed pseudonym key file.

    ``extra`` sets nested keys, ``a__b=value`` meaning ``{"a": {"b": value}}``.
    """
    data = {
        "database": {"url": db_url},
        "hashtags": ["hiljadekamera"],
        "sources": {"mastodon": {"servers": servers, "min_interval_seconds": 0, "max_retries": 2,
                                 "timeout_seconds": 5, "backfill_since": "2000-01-01"}},
        "privacy": {"secret_file": str(directory / "hiljade.secret")},
        "geocoder": {"enabled": False},
    }
    for dotted, value in extra.items():
        node = data
        parts = dotted.split("__")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    path = directory / "config.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path
