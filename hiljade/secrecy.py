"""Secrets: where they may come from, and the one place they are kept out of what is stored and printed.

Secrets (access tokens, app passwords, the pseudonym key, a database password) come only from the
environment: a config file that holds one, or a URL with credentials in it, is refused
(``file_secret_problems``, ``credentials_problem``). Every secret hiljade holds is registered here
when it is read: the environment's when the configuration loads, and again by the source that
uses one, and the session tokens a source obtains (Bluesky's JWTs). ``scrub`` replaces each whole
registered value with ``***``; it is applied where messages are stored (the harvest ledger) and
printed (the command line, the daemon's log), and by the sources before they cut an answer short.

A secret shorter than ``MIN_SECRET_LENGTH`` is refused, never registered: masking so short a value
would mangle ordinary words (a token ``x`` turns "Max retries exceeded" into
"Ma*** retries e***ceeded"), and leaving it unmasked would let it through.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus, unquote, urlsplit

from hiljade.defaults import ENV_PREFIX, SECRET_OK, SECRET_WORDS
from hiljade.errors import ConfigError

MIN_SECRET_LENGTH = 8
MASK = "***"

# Settings whose address is kept with every post, cursor and ledger row or shown in messages: no
# credentials in them, wherever they come from.
SERVICE_URLS = ("sources.mastodon.servers", "sources.twitter.api_url", "sources.bluesky.service_url",
                "geocoder.url", "gazetteer.overpass_url")

_lock = threading.Lock()
_secrets: tuple[str, ...] = ()  # every registered spelling, longest first


def secret_problem(name: str, value: str) -> str | None:
    """Why ``value`` (from ``name``) cannot be used as a secret, or None: too short to be masked."""
    if len(value) >= MIN_SECRET_LENGTH:
        return None
    return (
        f"{name}: the value is {len(value)} character{'' if len(value) == 1 else 's'} long; a real token, "
        f"password or key is longer, and a secret shorter than {MIN_SECRET_LENGTH} characters cannot be "
        "kept out of messages: export the real value"
    )


def keep_secret(value: str, name: str) -> str:
    """Register ``value`` so that ``scrub`` masks it from now on, and return it; ``name`` says where it
    came from (an environment variable). ConfigError when it is too short to be masked."""
    problem = secret_problem(name, value)
    if problem:
        raise ConfigError([problem])
    add_secret(value)
    return value


def add_secret(value: str) -> None:
    """Mask ``value`` (and its URL- and JSON-escaped spellings) in every text ``scrub`` sees from now
    on; ValueError when it is shorter than MIN_SECRET_LENGTH (callers check ``secret_problem``)."""
    global _secrets
    if len(value) < MIN_SECRET_LENGTH:
        raise ValueError(f"a secret must be at least {MIN_SECRET_LENGTH} characters long")
    spellings = {value, quote(value, safe=""), quote_plus(value), json.dumps(value)[1:-1],
                 json.dumps(value, ensure_ascii=False)[1:-1]}
    with _lock:
        _secrets = tuple(sorted(set(_secrets) | spellings, key=len, reverse=True))


def scrub(text: str) -> str:
    """``text`` with every whole registered secret replaced by ``***``."""
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def register_env_secrets(env: Mapping[str, str], names: Iterable[str], database_url: str) -> list[str]:
    """Register the secrets of the environment variables ``names`` and the database URL's password for
    masking; the problems of those too short to be masked (a database password never is echoed)."""
    problems = []
    for name in dict.fromkeys(names):
        value = env.get(name) or ""
        if value and (problem := secret_problem(name, value.strip())):
            problems.append(problem)
        elif value:
            for spelling in {value, value.strip()}:
                add_secret(spelling)
    try:
        password = urlsplit(database_url).password or ""
    except ValueError:
        password = ""
    for spelling in {password, unquote(password)}:
        if len(spelling) >= MIN_SECRET_LENGTH:  # a shorter one is never shown (Store.safe_url hides it)
            add_secret(spelling)
    return problems


def file_secret_problems(tree: Any, prefix: str = "") -> list[str]:
    """What in a config file's tree is a secret: a key named like one, or a URL holding a password."""
    problems = []
    if isinstance(tree, dict):
        for key, value in tree.items():
            name = f"{prefix}{key}"
            if key not in SECRET_OK and any(w in str(key).lower() for w in SECRET_WORDS):
                problems.append(
                    f"{name}: secrets are not read from the config file; remove it and put the value in an "
                    "environment variable (for a Mastodon token: token_env: VAR_NAME)"
                )
            problems += file_secret_problems(value, name + ".")
    elif isinstance(tree, list):
        for item in tree:
            problems += file_secret_problems(item, prefix)
    elif isinstance(tree, str) and url_credentials(tree)[1] and not prefix.startswith(SERVICE_URLS):
        name = prefix.rstrip(".")  # a service URL is refused with any credentials, from anywhere
        problems.append(
            f"{name}: {masked_url(tree)} holds a password, and secrets are not read from the config file; "
            f"remove it from the file and set the whole URL, password included, in the environment: "
            f"{ENV_PREFIX}{name.replace('.', '_').upper()}"
        )
    return problems


def credentials_problem(name: str, url: Any) -> str | None:
    """Why a service URL may not be used: it carries a user name or password (``http://user:TOKEN@host``)."""
    if not isinstance(url, str) or not any(url_credentials(url)):
        return None
    return (
        f"{name}: {masked_url(url)} carries a user name or password; this address is stored (with posts, "
        "cursors and the ledger) and shown in messages and by status, so it may hold no credentials: remove "
        "them, and give a token through the environment (for a Mastodon server: "
        "{url: URL, token_env: VAR_NAME}, then export VAR_NAME)"
    )


def url_credentials(url: str) -> tuple[bool, bool]:
    """(has a user name, has a password) in the URL's userinfo (``scheme://user:password@host``)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False, False
    return parts.username is not None, parts.password is not None


def masked_url(url: str) -> str:
    """The URL with its userinfo replaced by ``***``, for messages."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=f"{MASK}@{host}").geturl()


class ScrubbingHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A log handler whose lines (message and traceback alike) pass through ``scrub``."""

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))
