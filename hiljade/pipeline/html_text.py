"""HTML of a post (Mastodon, Pleroma, GoToSocial ...) to the plain text the pipeline reads.

Paragraphs become blank lines, ``<br>`` a newline, list items lines; links keep their text
(Mastodon's hidden ``<span class="invisible">`` parts are kept, so a shortened URL comes out
whole); entities are unescaped; hashtags and mentions keep their ``#`` and ``@``.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

_BLOCKS = frozenset(
    {"p", "div", "blockquote", "ul", "ol", "pre", "h1", "h2", "h3", "h4", "h5", "h6", "table", "tr", "hr"}
)
_SKIPPED = frozenset({"script", "style", "template", "head", "title"})
_SPACES = re.compile(r"[ \t\r\n\f\v\u00a0]+")
_PARAGRAPH = "\x00P"  # markers, never in text (NUL is dropped from the input)
_LINE = "\x00L"


class _TextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0
        self._pre = 0
        self._links: list[tuple[int, str, str]] = []  # (index in parts, href, class)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self._skip += 1
        elif tag in ("br", "li"):
            self.parts.append(_LINE)
        elif tag in _BLOCKS:
            self.parts.append(_PARAGRAPH)
            self._pre += tag == "pre"
        elif tag == "a":
            values = dict(attrs)
            self._links.append((len(self.parts), values.get("href") or "", values.get("class") or ""))

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCKS:
            self.parts.append(_PARAGRAPH)
            if tag == "pre":
                self._pre = max(0, self._pre - 1)
        elif tag == "a" and self._links:
            self._close_link(*self._links.pop())

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        data = data.replace("\x00", "")
        self.parts.append(data if self._pre else _SPACES.sub(" ", data))

    def _close_link(self, start: int, href: str, css: str) -> None:
        """A link whose text a server shortened with an ellipsis is replaced by its full href."""
        shown = "".join(p for p in self.parts[start:] if not p.startswith("\x00")).strip()
        shortened = shown.endswith(("…", "...")) and not shown.startswith(("#", "@"))
        if shortened and href.startswith(("http://", "https://")) and "mention" not in css.split():
            self.parts[start:] = [href]


def html_to_text(content: str | None) -> str:
    """Plain text of post HTML; text without any tag is taken as plain text (its newlines kept)."""
    if not content:
        return ""
    if "<" not in content:
        lines = (_SPACES.sub(" ", line).strip() for line in html.unescape(content).splitlines())
        return _squeeze("\n".join(lines))
    parser = _TextParser()
    parser.feed(content)
    parser.close()
    return _assemble(parser.parts)


def _assemble(parts: list[str]) -> str:
    out: list[str] = []
    for part in parts:
        if part == _PARAGRAPH:
            out.append("\n\n")
        elif part == _LINE:
            out.append("\n")
        else:
            out.append(part)
    text = "".join(out)
    lines = [line.strip(" \t") for line in text.split("\n")]
    return _squeeze("\n".join(lines))


def _squeeze(text: str) -> str:
    """At most one blank line between paragraphs, none at the ends."""
    return re.sub(r"\n{3,}", "\n\n", text).strip()
