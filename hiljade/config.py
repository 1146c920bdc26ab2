"""One configuration loader: defaults < file < environment (HILJADE_...) < command-line flags.

Secrets (access tokens, the pseudonym key, API passwords) come only from the environment:
a file that holds one is refused.
"""

from __future__ import annotations

import copy
import datetime as dt
import difflib
import os
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from hiljade.defaults import DEFAULT_CONFIG, DEFAULTS, ENV_PREFIX, SECRET_ENVS
from hiljade.errors import ConfigError
from hiljade.secrecy import SERVICE_URLS, credentials_problem, file_secret_problems, register_env_secrets


@dataclass(frozen=True)
class MastodonServer:
    """One Mastodon-API server to harvest, with the name of the env variable that holds its token."""

    url: str
    token_env: str | None = None

    def token(self, environ: Mapping[str, str] | None = None) -> str | None:
        """The access token from the environment, or None."""
        if not self.token_env:
            return None
        return (environ if environ is not None else os.environ).get(self.token_env) or None


@dataclass(frozen=True)
class Config:
    """A validated configuration: ``data`` is the merged tree, ``path`` the file it came from."""

    data: dict[str, Any]
    path: Path | None = None

    def get(self, dotted: str, default: Any = None) -> Any:
        """A value by dotted path, e.g. ``get("database.url")``."""
        node: Any = self.data
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node

    @property
    def database_url(self) -> str:
        return str(self.data["database"]["url"])

    @property
    def hashtags(self) -> list[str]:
        return list(self.data["hashtags"])

    @property
    def mastodon_servers(self) -> list[MastodonServer]:
        return [MastodonServer(**s) for s in self.data["sources"]["mastodon"]["servers"]]


def load_config(
    path: str | Path | None = None,
    *,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Load defaults, then the file, then HILJADE_* variables, then ``overrides`` (dotted keys)."""
    env = os.environ if environ is None else environ
    problems: list[str] = []
    data = copy.deepcopy(DEFAULTS)
    chosen = path or env.get(ENV_PREFIX + "CONFIG")
    file_path: Path | None = Path(chosen) if chosen else Path(DEFAULT_CONFIG)
    if file_path.exists():
        try:
            loaded = yaml.safe_load(file_path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError([f"{file_path}: cannot read YAML ({exc}); fix the syntax"]) from exc
        if not isinstance(loaded, dict):
            raise ConfigError([f"{file_path}: the top level must be a mapping of settings"])
        problems += file_secret_problems(loaded)
        _merge(data, loaded, "", problems)
    elif chosen:
        raise ConfigError([f"config file {file_path} does not exist; pass an existing file to --config"])
    else:
        file_path = None
    _apply_env(data, env, problems)
    for dotted, value in (overrides or {}).items():
        if value is not None:
            _set(data, dotted, value)
    _validate(data, problems)
    servers = data["sources"]["mastodon"]["servers"]
    tokens = [s["token_env"] for s in servers if s["token_env"]]
    problems += register_env_secrets(env, [*SECRET_ENVS, *tokens], str(data["database"]["url"]))
    if problems:
        raise ConfigError(problems)
    return Config(data=data, path=file_path)


def _merge(base: dict[str, Any], new: Mapping[str, Any], prefix: str, problems: list[str]) -> None:
    for key, value in new.items():
        name = f"{prefix}{key}"
        if key not in base:
            close = difflib.get_close_matches(str(key), list(base), n=1)
            hint = f"did you mean '{prefix}{close[0]}'?" if close else f"known keys here: {', '.join(base)}"
            problems.append(f"{name}: unknown setting; {hint}")
        elif isinstance(base[key], dict):
            if isinstance(value, dict):
                _merge(base[key], value, name + ".", problems)
            else:
                problems.append(f"{name}: must be a mapping of settings, not {type(value).__name__}")
        else:
            base[key] = value


def _env_names(tree: dict[str, Any], prefix: str = "") -> dict[str, str]:
    names: dict[str, str] = {}
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            names.update(_env_names(value, dotted + "."))
        else:
            names[ENV_PREFIX + dotted.replace(".", "_").upper()] = dotted
    return names


def _apply_env(data: dict[str, Any], env: Mapping[str, str], problems: list[str]) -> None:
    for var, dotted in _env_names(DEFAULTS).items():
        if var not in env:
            continue
        raw = env[var]
        if isinstance(_get(DEFAULTS, dotted), list):
            value: Any = [part.strip() for part in raw.split(",") if part.strip()]
        else:
            try:
                value = yaml.safe_load(raw) if raw.strip() else ""
            except yaml.YAMLError:
                value = raw
            if isinstance(_get(DEFAULTS, dotted), str) and not isinstance(value, str):
                value = raw
        _set(data, dotted, value)


def _get(tree: dict[str, Any], dotted: str) -> Any:
    node: Any = tree
    for part in dotted.split("."):
        node = node[part]
    return node


def _set(tree: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = tree
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def _validate(data: dict[str, Any], problems: list[str]) -> None:
    url = data["database"]["url"]
    if not isinstance(url, str) or not re.match(r"^(sqlite|postgresql)(\+\w+)?://", url):
        problems.append(
            "database.url: must be sqlite:///PATH or postgresql://HOST/DB "
            f"(got {url!r}); set it in the file or in HILJADE_DATABASE_URL"
        )
    _check_number(data, "database.busy_timeout_seconds", problems, minimum=0)
    for dotted in ("user_agent", "geocoder.user_agent"):
        if problem := _header_problem(dotted, _get(data, dotted)):
            problems.append(problem)
    for dotted in SERVICE_URLS[1:]:
        if problem := credentials_problem(dotted, _get(data, dotted)):
            problems.append(problem)
    tags = data["hashtags"]
    if not isinstance(tags, list) or not tags:
        problems.append("hashtags: must be a non-empty list, e.g. [hiljadekamera]")
    else:
        clean = []
        for tag in tags:
            text = str(tag).strip()
            if text.startswith("#") or not re.fullmatch(r"\w+", text):
                problems.append(f"hashtags: {tag!r} is not a bare hashtag; write it without '#' and spaces")
            clean.append(text.lstrip("#").lower())
        data["hashtags"] = clean
    masto = data["sources"]["mastodon"]
    masto["servers"] = _servers(masto.get("servers"), problems)
    masto["backfill_since"] = _date(masto.get("backfill_since"), "sources.mastodon.backfill_since", problems)
    for key, minimum in (
        ("page_limit", 1),
        ("min_interval_seconds", 0),
        ("timeout_seconds", 0.1),
        ("total_timeout_seconds", 0.1),
        ("max_retries", 0),
        ("max_pages_per_run", 0),
        ("empty_feed_warning_days", 1),
    ):
        _check_number(data, f"sources.mastodon.{key}", problems, minimum=minimum)
    if isinstance(masto.get("page_limit"), int) and masto["page_limit"] > 40:
        problems.append(
            "sources.mastodon.page_limit: Mastodon serves at most 40 statuses a page; use 40 or less"
        )
    hosts = data["media"]["allow_hosts"]
    if not isinstance(hosts, list) or not all(isinstance(h, str) for h in hosts):
        problems.append("media.allow_hosts: must be a list of host names, e.g. [files.example.org]")
    for key in ("max_bytes", "timeout_seconds", "total_timeout_seconds", "max_redirects", "max_pixels"):
        _check_number(data, f"media.{key}", problems, minimum=0)
    for dotted in ("sources.mastodon.enabled", "privacy.store_handles", "media.download", "geocoder.enabled"):
        value = _get(data, dotted)
        if not isinstance(value, bool):
            problems.append(f"{dotted}: must be true or false (got {value!r})")
    _check_number(data, "geocoder.min_delay_seconds", problems, minimum=1)
    for dotted in (
        "sources.mastodon.interval",
        "sources.twitter.interval",
        "sources.bluesky.interval",
        "scheduler.process_interval",
        "scheduler.recheck_interval",
        "recheck.min_age",
        "recheck.every",
    ):
        try:
            if parse_duration(_get(data, dotted)) <= 0:
                problems.append(f"{dotted}: must be longer than zero")
        except ValueError as exc:
            problems.append(f"{dotted}: {exc}")
    bools = (
        "sources.twitter.enabled",
        "sources.bluesky.enabled",
        "scheduler.json_logs",
        "sources.twitter.include_retweets",
    )
    for dotted in bools:
        if not isinstance(_get(data, dotted), bool):
            problems.append(f"{dotted}: must be true or false (got {_get(data, dotted)!r})")
    for dotted, minimum in (
        ("sources.twitter.monthly_cap", 0),
        ("sources.twitter.page_limit", 10),
        ("sources.twitter.max_pages_per_run", 0),
        ("sources.bluesky.page_limit", 1),
        ("sources.twitter.timeout_seconds", 0.1),
        ("sources.twitter.total_timeout_seconds", 0.1),
        ("sources.twitter.max_retries", 0),
        ("sources.bluesky.timeout_seconds", 0.1),
        ("sources.bluesky.total_timeout_seconds", 0.1),
        ("sources.bluesky.max_retries", 0),
        ("sources.bluesky.max_pages_per_run", 0),
        ("scheduler.misfire_grace_seconds", 0),
        ("scheduler.lock_timeout_seconds", 0),
        ("recheck.batch_size", 1),
        ("sites.radius_m", 1),
        ("reconcile.radius_m", 0.1),
        ("sites.verify_reports", 1),
        ("review.required_agreements", 1),
        ("sites.phash_threshold", 0),
        ("sites.text_similarity", 0),
        ("imports.max_attachment_bytes", 1),
    ):
        _check_number(data, dotted, problems, minimum=minimum)
    boundary = data["area"]["boundary"]
    if boundary and not Path(str(boundary)).exists():
        problems.append(
            f"area.boundary: file {boundary} does not exist; give a GeoJSON polygon file or leave it empty"
        )


DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)\s*$")
DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: Any) -> float:
    """Seconds in a duration such as ``30s``, ``15m``, ``1h``, ``7d`` (a bare number is seconds)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    match = DURATION.match(str(value))
    if not match:
        raise ValueError(f"{value!r} is not a duration; write it like 30s, 15m, 1h or 7d")
    return float(match.group(1)) * DURATION_UNITS[match.group(2)]


def _check_number(data: dict[str, Any], dotted: str, problems: list[str], *, minimum: float) -> None:
    value = _get(data, dotted)
    if isinstance(value, bool) or not isinstance(value, int | float):
        problems.append(f"{dotted}: must be a number (got {value!r})")
    elif value < minimum:
        problems.append(f"{dotted}: must be at least {minimum} (got {value!r})")


def _servers(raw: Any, problems: list[str]) -> list[dict[str, Any]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        problems.append(
            "sources.mastodon.servers: must be a list of base URLs or {url: URL, token_env: NAME}"
        )
        return []
    servers: list[dict[str, Any]] = []
    for entry in raw:
        token_env = None
        if isinstance(entry, dict):
            extra = set(entry) - {"url", "token_env"}
            if extra:
                problems.append(
                    f"sources.mastodon.servers: unknown {'key' if len(extra) == 1 else 'keys'} "
                    f"{', '.join(sorted(map(str, extra)))} in the entry for "
                    f"{entry.get('url') or '(no url)'}; use only url and token_env"
                )
            url, token_env = entry.get("url"), entry.get("token_env")
            if token_env is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(token_env)):
                problems.append(
                    f"sources.mastodon.servers: token_env {token_env!r} is not an environment variable name"
                )
        else:
            url = entry
        if problem := credentials_problem("sources.mastodon.servers", url):
            problems.append(problem)
            continue
        parts = urlsplit(str(url or ""))
        if parts.scheme not in ("http", "https") or not parts.netloc:
            problems.append(
                f"sources.mastodon.servers: {url!r} is not a base URL; write it like https://mastodon.social"
            )
            continue
        base = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
        servers.append({"url": base, "token_env": token_env})
    return servers


def _header_problem(name: str, value: Any) -> str | None:
    """Why ``value`` cannot be sent as the User-Agent header, or None."""
    if not isinstance(value, str):
        return f"{name}: must be text naming this installation and a contact"
    bad = [c for c in dict.fromkeys(value) if ord(c) > 255 or not c.isprintable()]
    if not bad:
        return None
    shown = ", ".join(f'"{c}"' if c.isprintable() else f"U+{ord(c):04X}" for c in bad)
    plain = unicodedata.normalize("NFKD", value.translate(_LATIN)).encode("ascii", "ignore").decode()
    plain = " ".join("".join(c if c.isprintable() else " " for c in plain).split())
    return (
        f"{name}: contains {shown}, which an HTTP header cannot carry (only Latin-1 letters, no line breaks "
        f'or control characters); write it without, e.g. "{plain}"'
    )


_LATIN = str.maketrans({"đ": "dj", "Đ": "Dj"})  # the one Serbian letter that has no decomposition


def _date(value: Any, name: str, problems: list[str]) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        problems.append(f"{name}: {value!r} is not a date; write it as YYYY-MM-DD")
        return None


def normalize_api_url(url: str) -> str:
    """The X API base URL as ``scheme://host[:port][/prefix]`` without a trailing slash; ConfigError when
    not http(s)."""
    url = (url or "").strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError([f"sources.twitter.api_url: {url!r} is not an http(s) URL; the default is "
                           f"{DEFAULTS['sources']['twitter']['api_url']}"])
    return url
