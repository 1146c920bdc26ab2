"""The configuration loader: defaults < file < environment < flags; secrets only from the environment."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from hiljade.config import DEFAULTS, MastodonServer, load_config
from hiljade.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent


def test_example_config_loads_as_is() -> None:
    config = load_config(REPO / "config.yaml", environ={})
    assert config.database_url == "sqlite:///hiljade.db"
    assert config.hashtags == ["hiljadekamera"]
    assert len(config.mastodon_servers) >= 2
    assert config.get("privacy.store_handles") is False


def test_order_defaults_file_environment_flags(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("database: {url: 'sqlite:///file.db'}\nhashtags: [kamere]\n")
    assert load_config(path, environ={}).database_url == "sqlite:///file.db"
    assert (
        load_config(path, environ={}).get("sources.mastodon.page_limit")
        == DEFAULTS["sources"]["mastodon"]["page_limit"]
    )
    env = {
        "HILJADE_DATABASE_URL": "postgresql://db/x",
        "HILJADE_HASHTAGS": "a,B",
        "HILJADE_PRIVACY_STORE_HANDLES": "true",
        "HILJADE_SOURCES_MASTODON_BACKFILL_SINCE": "2021-03-04",
    }
    config = load_config(path, environ=env)
    assert config.database_url == "postgresql://db/x"
    assert config.hashtags == ["a", "b"]
    assert config.get("privacy.store_handles") is True
    assert config.get("sources.mastodon.backfill_since") == dt.date(2021, 3, 4)
    flagged = load_config(path, environ=env, overrides={"database.url": "sqlite:///flag.db"})
    assert flagged.database_url == "sqlite:///flag.db"


def test_config_path_from_environment(tmp_path: Path) -> None:
    path = tmp_path / "elsewhere.yaml"
    path.write_text("hashtags: [drugi]\n")
    assert load_config(None, environ={"HILJADE_CONFIG": str(path)}).hashtags == ["drugi"]
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(None, environ={"HILJADE_CONFIG": str(tmp_path / "missing.yaml")})


def test_servers_as_urls_or_mappings_with_token_env(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "sources:\n  mastodon:\n    servers:\n      - http://127.0.0.1:8080/\n"
        "      - {url: https://locked.example, token_env: LOCKED_TOKEN}\n"
    )
    servers = load_config(path, environ={}).mastodon_servers
    assert servers == [
        MastodonServer("http://127.0.0.1:8080"),
        MastodonServer("https://locked.example", "LOCKED_TOKEN"),
    ]
    assert servers[1].token({"LOCKED_TOKEN": "abc"}) == "abc"
    assert servers[1].token({}) is None


def test_secrets_in_the_file_are_refused_without_echoing_them(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "sources:\n  mastodon:\n    servers:\n      - {url: https://a.example, access_token: hunter2}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert "environment" in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_every_problem_is_listed_with_its_fix(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "database: {url: 'mysql://x'}\nhashtags: []\nmedia: {allow_hosts: nope, max_bytes: -1}\n"
        "privacy: {store_handles: maybe}\nsources: {mastodon: {servers: [ftp://x], page_limit: 100}}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    problems = caught.value.problems
    assert len(problems) == 7, problems
    assert all(":" in p and len(p) > 30 for p in problems)


def test_not_yaml_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("database: [unclosed\n")
    with pytest.raises(ConfigError, match="cannot read YAML"):
        load_config(path, environ={})
