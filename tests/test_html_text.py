"""Post HTML to text: linear on hostile markup, capped, unchanged on ordinary posts (issue 10, item 16)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from hiljade.pipeline.html_text import MAX_HTML_CHARS, MAX_TEXT_CHARS, html_to_text

MB = 1_000_000


def test_hostile_markup_of_a_megabyte_is_read_in_linear_time() -> None:
    """Before: 1 MB of nested ``<a>`` took 168 s (html.parser and the link rewriting are quadratic on
    such input); each document here is read in well under a second. Run in a child process so a
    quadratic reader fails the test by its timeout instead of hanging it."""
    script = textwrap.dedent(f"""
        import time
        from hiljade.pipeline.html_text import html_to_text
        documents = {{
            "nested links": '<a href="https://x.example/">x' * ({MB} // 30) + "…" + "</a>" * ({MB} // 30),
            "tags never closed": "<a " * ({MB} // 3),
            "quotes never closed": '<a b="' * ({MB} // 6),
            "comments never closed": "<!--" * ({MB} // 4),
            "nested pre": "<pre>" * ({MB} // 5) + "x",
        }}
        for name, document in documents.items():
            start = time.perf_counter()
            html_to_text(document)
            print(name, round(time.perf_counter() - start, 2))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30,
                          check=True)
    times = {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in done.stdout.splitlines()}
    assert len(times) == 5 and all(seconds < 5 for seconds in times.values()), times


def test_the_text_kept_is_capped() -> None:
    assert MAX_HTML_CHARS >= 10 * MAX_TEXT_CHARS
    assert len(html_to_text("<p>" + "word " * MB + "</p>")) <= MAX_TEXT_CHARS
    assert len(html_to_text("word " * MB)) <= MAX_TEXT_CHARS
    assert html_to_text("<p>" + "a" * (3 * MAX_TEXT_CHARS)).startswith("a" * 1000)


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("a <b c", "a <b c"),  # a tag never closed is text, as html.parser had it
        ("x</p>y", "x\n\ny"),
        ("<p>a</p  >b", "a\n\nb"),
        ('<A HREF="u">T</A>', "T"),
        ("a<!-- c -->b", "ab"),
        ("a<!-- c", "a<!-- c"),
        ("<p>a<script>x</p>y</script>z", "az"),
        ("a &lt;b&gt; c", "a <b> c"),
        ("<br/>x<br />y", "x\ny"),
        ("<p class=\"x\" data-a='1>2'>t</p>", "t"),
        ("a < b", "a < b"),
        ("a<?php x?>b", "ab"),
        ("<!DOCTYPE html><p>x", "x"),
        ("a</ b>c", "ac"),
        ("x&amp", "x&"),
        ("<p>a &nbsp; b</p>", "a b"),
        ("<pre>a\n  b</pre>c", "a\nb\n\nc"),
        ('<a href="https://x.example/long/path" class="u-url">x.example/lo…</a>', "https://x.example/long/path"),
        ('<a href="https://x/@mila" class="u-url mention">@mila…</a>', "@mila…"),
        ("nul\x00here", "nulhere"),
    ],
)
def test_ordinary_and_odd_markup_reads_as_before(html: str, text: str) -> None:
    assert html_to_text(html) == text
