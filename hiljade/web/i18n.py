"""Serbian (Latin) and English words for the web pages; each web module registers its catalog."""

from __future__ import annotations

from starlette.requests import Request

LANGUAGES = ("sr", "en")
DEFAULT_LANGUAGE = "sr"
CATALOG: dict[str, dict[str, str]] = {}


def register(catalog: dict[str, dict[str, str]]) -> None:
    """Add a module's words: key -> {"sr": ..., "en": ...}."""
    CATALOG.update(catalog)


def t(lang: str, key: str) -> str:
    """The words for ``key`` in ``lang`` (Serbian when missing, the key itself when unknown)."""
    words = CATALOG.get(key)
    if words is None:
        return key
    return words.get(lang) or words.get(DEFAULT_LANGUAGE) or key


def language(request: Request) -> str:
    """The page's language: the ``lang`` query switch, else the ``lang`` cookie, else Accept-Language."""
    for chosen in (request.query_params.get("lang"), request.cookies.get("lang")):
        if chosen in LANGUAGES:
            return chosen
    for part in request.headers.get("accept-language", "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
        if code in ("sh", "hr", "bs", "me"):
            return "sr"
    return DEFAULT_LANGUAGE
