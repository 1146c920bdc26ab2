"""The configuration loader: defaults < file < environment < flags; secrets only from the environment."""

from __future__ import annotations

import datetime as dt
import io
import logging
from pathlib import Path

import pytest
import yaml

from hiljade.config import DEFAULTS, MastodonServer, load_config
from hiljade.defaults import BLUESKY_PASSWORD_ENV, PSEUDONYM_KEY_ENV
from hiljade.errors import ConfigError
from hiljade.secrecy import ScrubbingHandler, add_secret, scrub

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


def _problems(path: Path, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ=environ or {})
    return str(caught.value)


def test_a_secret_too_short_to_mask_is_refused_and_messages_stay_whole(tmp_path: Path) -> None:
    """Issue 9, item 4: a token ``x`` turned "Max retries exceeded" into "Ma*** retries e***ceeded"."""
    path = tmp_path / "c.yaml"
    path.write_text("sources: {mastodon: {servers: [{url: 'https://a.example', token_env: A_TOKEN}]}}\n")
    said = _problems(path, {"A_TOKEN": "x"})
    assert "A_TOKEN: the value is 1 character long" in said and "8 characters" in said
    for name in (BLUESKY_PASSWORD_ENV, PSEUDONYM_KEY_ENV):
        assert name in _problems(path, {"A_TOKEN": "a-real-token-0001", name: "short"})
    load_config(path, environ={"A_TOKEN": "a-real-token-0001"})
    text = "Max retries exceeded; the server said a-real-token-0001 (a-real-token-0001%21 quoted)"
    assert scrub(text) == "Max retries exceeded; the server said *** (***%21 quoted)"
    with pytest.raises(ValueError, match="at least 8 characters"):
        add_secret("x")


def test_a_scrubbing_log_handler_masks_message_and_traceback() -> None:
    add_secret("log-secret-0002")
    stream = io.StringIO()
    logger = logging.getLogger("hiljade.test.secrecy")
    handler = ScrubbingHandler(stream)
    logger.addHandler(handler)
    try:
        try:
            raise RuntimeError("answered log-secret-0002")
        except RuntimeError:
            logger.exception("token %s refused", "log-secret-0002")
    finally:
        logger.removeHandler(handler)
    assert "log-secret-0002" not in stream.getvalue()
    assert "token *** refused" in stream.getvalue() and "RuntimeError: answered ***" in stream.getvalue()


@pytest.mark.parametrize("dotted", ["user_agent", "geocoder.user_agent"])
def test_a_user_agent_http_cannot_carry_is_refused_when_the_config_loads(tmp_path: Path, dotted: str) -> None:
    """Issue 10, item 8: "Takahē" was accepted, then every request failed with a latin-1 codec error."""
    path = tmp_path / "c.yaml"
    section, _, key = dotted.rpartition(".")
    setting = {key: "hiljade at Takahē (ops@example.org)"}
    path.write_text(yaml.safe_dump({section: setting} if section else setting, allow_unicode=True))
    said = _problems(path)
    assert f'{dotted}: contains "ē"' in said and "HTTP header" in said
    assert '"hiljade at Takahe (ops@example.org)"' in said
    path.write_text(yaml.safe_dump({key: "bot\nX-Injected: 1"}))
    assert "U+000A" in _problems(path)
    path.write_text(yaml.safe_dump({key: "hiljade, José (ops@example.org)"}, allow_unicode=True))
    assert load_config(path, environ={})  # Latin-1 goes through requests and http.client as it is


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("sources.mastodon.servers", ["http://user:TOKEN-0003@masto.example"]),
        ("sources.mastodon.servers", [{"url": "https://TOKEN-0003@masto.example", "token_env": "T"}]),
        ("sources.bluesky.service_url", "https://handle:TOKEN-0003@bsky.example"),
        ("sources.twitter.api_url", "https://TOKEN-0003:@api.example"),
        ("geocoder.url", "https://user:TOKEN-0003@nominatim.example"),
        ("gazetteer.overpass_url", "https://user:TOKEN-0003@overpass.example"),
    ],
)
def test_a_service_url_with_credentials_is_refused(tmp_path: Path, setting: str, value: object) -> None:
    """Issue 10, item 24: http://user:TOKEN@host was accepted and the token stored with every post."""
    path = tmp_path / "c.yaml"
    tree: dict = {}
    node = tree
    parts = setting.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    path.write_text(yaml.safe_dump(tree))
    said = _problems(path)
    assert f"{setting}: " in said and "***@" in said and "environment" in said
    assert "TOKEN-0003" not in said
    if isinstance(value, str):  # from the environment too: the address is stored all the same
        env = {"HILJADE_" + setting.replace(".", "_").upper(): value}
        said = _problems(_empty(tmp_path), env)
        assert f"{setting}: " in said and "TOKEN-0003" not in said


def _empty(tmp_path: Path) -> Path:
    path = tmp_path / "empty.yaml"
    path.write_text("hashtags: [hiljadekamera]\n")
    return path


def test_a_database_password_in_the_file_is_refused_and_taken_from_the_environment(tmp_path: Path) -> None:
    """Issue 10, item 24: the README promises a file holding a secret is refused."""
    path = tmp_path / "c.yaml"
    path.write_text("database: {url: 'postgresql://hiljade:pw-0004-secret@127.0.0.1/hiljade'}\n")
    said = _problems(path)
    assert "database.url: postgresql://***@127.0.0.1/hiljade holds a password" in said
    assert "HILJADE_DATABASE_URL" in said and "pw-0004-secret" not in said
    path.write_text("database: {url: 'postgresql://hiljade@127.0.0.1/hiljade'}\n")  # no password: fine
    assert load_config(path, environ={}).database_url.endswith("/hiljade")
    url = "postgresql://hiljade:pw-0005-secret@127.0.0.1/hiljade"
    assert load_config(_empty(tmp_path), environ={"HILJADE_DATABASE_URL": url}).database_url == url
    assert scrub(f"to {url} failed") == "to postgresql://hiljade:***@127.0.0.1/hiljade failed"
