"""Every default setting of hiljade, in one place (documented in config.yaml)."""

from __future__ import annotations

import datetime as dt
from typing import Any

ENV_PREFIX = "HILJADE_"
DEFAULT_CONFIG = "config.yaml"

DEFAULTS: dict[str, Any] = {
    "database": {"url": "sqlite:///hiljade.db", "busy_timeout_seconds": 30},
    "hashtags": ["hiljadekamera"],
    "user_agent": "hiljade/0.1 (citizen camera map harvester; set user_agent to your contact)",
    "sources": {
        "mastodon": {
            "enabled": True,
            "servers": [],
            "backfill_since": dt.date(2019, 1, 1),
            "page_limit": 40,
            "min_interval_seconds": 1.0,
            "timeout_seconds": 30.0,
            "total_timeout_seconds": 120.0,
            "max_retries": 4,
            "max_pages_per_run": 1000,
            "empty_feed_warning_days": 30,
            "interval": "15m",
        },
        "twitter": {
            "enabled": False,
            "interval": "15m",
            "api_url": "https://api.twitter.com",
            "monthly_cap": 10000,
            "page_limit": 100,
            "max_pages_per_run": 1000,
            "cap_warning_share": 0.9,
            "empty_feed_warning_days": 30,
            "include_retweets": True,
            "timeout_seconds": 30.0,
            "total_timeout_seconds": 120.0,
            "max_retries": 4,
        },
        "bluesky": {
            "enabled": False,
            "interval": "30m",
            "service_url": "https://bsky.social",
            "handle": "",
            "page_limit": 100,
            "empty_feed_warning_days": 30,
            "timeout_seconds": 30.0,
            "total_timeout_seconds": 120.0,
            "max_retries": 3,
            "max_pages_per_run": 1000,
        },
    },
    "scheduler": {
        "process_interval": "15m",
        "recheck_interval": "1d",
        "misfire_grace_seconds": 300,
        "lock_timeout_seconds": 0,
        "json_logs": False,
    },
    "recheck": {"batch_size": 100, "min_age": "1d", "every": "7d"},
    # `hiljade process`: processes locating posts (at most one per CPU; 1 locates in the process itself)
    "process": {"workers": 2},
    "sites": {"radius_m": 25.0, "verify_reports": 3, "phash_threshold": 6, "text_similarity": 0.9},
    "review": {"required_agreements": 1},
    "imports": {
        "max_attachment_bytes": 20 * 1024 * 1024,
        "max_message_bytes": 32 * 1024 * 1024,
        "max_header_bytes": 16 * 1024,
        "max_line_bytes": 16 * 1024 * 1024,
        "max_captions_bytes": 4 * 1024 * 1024,
    },
    "media": {
        "download": True,
        "allow_hosts": [],
        "max_bytes": 20 * 1024 * 1024,
        "timeout_seconds": 20.0,
        "total_timeout_seconds": 60.0,
        "max_redirects": 3,
        "max_pixels": 50_000_000,
    },
    "privacy": {"store_handles": False, "secret_file": ""},
    "geocoder": {
        "enabled": True,
        "url": "https://nominatim.openstreetmap.org",
        "user_agent": "",
        "min_delay_seconds": 1.0,
        "country_codes": ["rs"],
        "timeout_seconds": 10.0,
        "total_timeout_seconds": 30.0,
    },
    "area": {"boundary": ""},
    "gazetteer": {"overpass_url": "https://overpass-api.de/api/interpreter", "local_names": ["belgrade"]},
    # `hiljade reconcile`: a site and an official row or OSM node further apart than this never match;
    # the statuses of the sites compared
    "reconcile": {"radius_m": 50.0, "statuses": ["verified"]},
    "web": {
        "host": "127.0.0.1",
        "port": 8000,
        "workers": 1,
        "title": "hiljade kamera",
        "base_url": "",
        "dev": False,
        "session_max_age_seconds": 8 * 3600,
        # the map's first view: [lat, lon, zoom]
        "center": [44.8125, 20.4612, 12],
        "tiles": {"url": "", "attribution": ""},
        # report: the campaign report page (/report) is public too, not only for logged-in reviewers
        "public": {
            "statuses": ["verified"], "max_sites": 5000, "max_basemap_features": 4000, "report": False,
        },
        # login throttling: this many failures per account name, and per client address, within
        # the window refuse further attempts until the window has passed; attempts are kept this long
        "login": {"max_failures": 5, "window_minutes": 15, "keep_days": 30},
    },
}

# Keys whose values are secrets: never accepted from a file.
SECRET_WORDS = ("token", "secret", "password", "bearer", "api_key")
SECRET_OK = {"token_env", "secret_file"}

# Environment variables that hold secrets (besides each Mastodon server's ``token_env``): checked
# and registered for masking (``hiljade.secrecy``) when the configuration loads.
PSEUDONYM_KEY_ENV = "HILJADE_SECRET"
BEARER_ENV = "HILJADE_TWITTER_BEARER_TOKEN"
BLUESKY_PASSWORD_ENV = "HILJADE_BLUESKY_APP_PASSWORD"
# the key that signs the web sessions' cookies (hiljade serve)
WEB_SECRET_ENV = "HILJADE_WEB_SECRET"
SECRET_ENVS = (PSEUDONYM_KEY_ENV, BEARER_ENV, BLUESKY_PASSWORD_ENV, WEB_SECRET_ENV)
