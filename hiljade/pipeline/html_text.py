"""HTML of a post (Mastodon, Pleroma, GoToSocial ...) to the plain text the pipeline reads.

Paragraphs become blank lines, ``<br>`` a newline, list items lines; links keep their text
(Mastodon's hidden ``<span class="invisible">`` parts are kept, so a shortened URL comes out
whole); entities are unescaped; hashtags and mentions keep their ``#`` and ``@``.

A federated post can come from anyone, so reading it takes time linear in its size (a small
scanner of our own: ``html.parser`` is quadratic on some hostile inputs), at most
``MAX_HTML_CHARS`` characters of HTML are read and at most ``MAX_TEXT_CHARS`` characters of text
kept; links nested deeper than ``MAX_OPEN_LINKS`` count as plain text.
"""

from __future__ import annotations

import html
import re

_BLOCKS = frozenset(
    {"p", "div", "blockquote", "ul", "ol", "pre", "h1", "h2", "h3", "h4", "h5", "h6", "table", "tr", "hr"}
)
_SKIPPED = frozenset({"script", "style", "template", "head", "title"})
_SPACES = re.compile(r"[ \t\r\n\f\v\u00a0]+")
_PARAGRAPH = "\x00P"  # markers, never in text (NUL is dropped from the input)
_LINE = "\x00L"
MAX_HTML_CHARS = 1_000_000  # characters of a post's HTML read; the rest is ignored
MAX_TEXT_CHARS = 100_000  # characters of text kept from one post
MAX_OPEN_LINKS = 8  # links open at once that are tracked (a shortened link inside a link is rare)
_RAW_TEXT = frozenset({"script", "style"})  # their content is not markup: skipped up to their end tag
# a start or end tag, up to its ``>`` outside quoted values; possessive, so it reads each character
# once and fails in one pass when no ``>`` follows
_TAG = re.compile(r"""<(/?)([A-Za-z][^\t\n\f\r />]*+)((?:[^>"'=]|=\s*+"[^"]*+"|=\s*+'[^']*+'|[="'])*+)>""")
_ATTR = re.compile(r"""([^\s"'>/=]++)(?:\s*+=\s*+(?:"([^"]*+)"|'([^']*+)'|([^\s>]++)))?""")


class _TextParser:
    """Collects the text parts of a document from the scanner's start tags, end tags and data."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.size = 0  # characters of text collected
        self._skip = 0
        self._pre = 0
        self._links: list[tuple[int, str, str]] = []  # (index in parts, href, class)
        self._untracked = 0  # links opened while MAX_OPEN_LINKS were open

    @property
    def full(self) -> bool:
        return self.size >= MAX_TEXT_CHARS

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self._skip += 1
        elif tag in ("br", "li"):
            self.parts.append(_LINE)
        elif tag in _BLOCKS:
            self.parts.append(_PARAGRAPH)
            self._pre += tag == "pre"
        elif tag == "a" and len(self._links) >= MAX_OPEN_LINKS:
            self._untracked += 1
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
        elif tag == "a" and self._untracked:
            self._untracked -= 1
        elif tag == "a" and self._links:
            self._close_link(*self._links.pop())

    def handle_data(self, data: str) -> None:
        if self._skip or self.full:
            return
        data = html.unescape(data).replace("\x00", "")[: MAX_TEXT_CHARS - self.size]
        self.size += len(data)
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
        text = html.unescape(content[:MAX_HTML_CHARS]).replace("\x00", "")[:MAX_TEXT_CHARS]
        return _squeeze("\n".join(_SPACES.sub(" ", line).strip() for line in text.splitlines()))
    parser = _TextParser()
    _scan(content[:MAX_HTML_CHARS], parser)
    return _assemble(parser.parts)[:MAX_TEXT_CHARS]


def _scan(content: str, parser: _TextParser) -> None:
    """Feed ``parser`` the tags and text of ``content`` in one pass (each character is read a bounded
    number of times). A comment or tag left open at the end is text, as ``html.parser`` has it."""
    pos, end = 0, len(content)
    while pos < end and not parser.full:
        lt = content.find("<", pos)
        if lt < 0:
            parser.handle_data(content[pos:])
            return
        if lt > pos:
            parser.handle_data(content[pos:lt])
        if content.startswith("<!--", lt):
            close = content.find("-->", lt + 4)
            if close < 0:
                parser.handle_data(content[lt:])
                return
            pos = close + 3
            continue
        tag = _TAG.match(content, lt)
        if tag is not None:
            name = tag.group(2).lower()
            pos = tag.end()
            if tag.group(1):
                parser.handle_endtag(name)
                continue
            parser.handle_starttag(name, _attributes(tag.group(3)))
            if name in _RAW_TEXT:
                closing = re.compile(rf"</{name}\s*>", re.IGNORECASE).search(content, pos)
                pos = closing.end() if closing else end
                parser.handle_endtag(name)
            continue
        follower = content[lt + 1 : lt + 2]
        if follower in ("!", "?", "/"):  # a declaration, a processing instruction, a bogus end tag
            close = content.find(">", lt)
            if close < 0:
                parser.handle_data(content[lt:])
                return
            pos = close + 1
        elif follower.isascii() and follower.isalpha():  # a tag that never closes: the rest is text
            parser.handle_data(content[lt:])
            return
        else:
            parser.handle_data("<")
            pos = lt + 1


def _attributes(text: str) -> list[tuple[str, str | None]]:
    """The attributes of a start tag, names lower-cased, values unescaped."""
    found = []
    for match in _ATTR.finditer(text):
        name, *values = match.groups()
        value = next((v for v in values if v is not None), None)
        found.append((name.lower(), html.unescape(value) if value is not None else None))
    return found


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
