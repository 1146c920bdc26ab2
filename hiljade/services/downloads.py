"""Media downloads for `hiljade process`: the fetcher under the configured media policy, and a
fingerprint of the media settings, so media the settings refused are tried again once they change."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from hiljade.config import Config
from hiljade.harvester.media import MediaPolicy, fetch_media, media_session

MediaFetcher = Callable[[str], tuple[str, bytes]]  # url -> (sha256, bytes)
# refusals (``MediaRefused.reason``) a change of the `media` settings can lift
CONFIG_REFUSALS = (
    "private_address", "too_large", "too_many_pixels", "format_not_allowed", "too_many_redirects"
)


def media_settings(config: Config) -> dict[str, Any]:
    """The `media` settings a download runs under (``download`` itself aside)."""
    return {k: v for k, v in config.get("media").items() if k != "download"}


def media_settings_key(config: Config) -> str:
    """A fingerprint of the media settings: a refusal is tried again once it changes."""
    text = json.dumps(media_settings(config), sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def media_fetcher(config: Config) -> MediaFetcher:
    """Downloads one image under the configured media policy (one HTTP session for the run)."""
    policy = MediaPolicy.from_config({**media_settings(config), "user_agent": config.get("user_agent")})
    session = media_session(policy)

    def fetch(url: str) -> tuple[str, bytes]:
        got = fetch_media(url, policy, session=session)
        return got.sha256, got.data

    return fetch


# media downloads that failed, by the error's class, in the words `hiljade process` reports them
FAILURE_WORDS = {"SourceUnavailable": "not reachable", "SourceNotFound": "gone", "MediaRefused": "refused",
                 "RateLimited": "rate-limited", "SourceAuthError": "refused by their server"}


def failure_words(exc: Exception) -> str:
    """Why a download failed, in a few plain words (not the exception's class name)."""
    return FAILURE_WORDS.get(type(exc).__name__, "failed")
