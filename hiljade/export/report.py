"""The campaign report as a document: its numbers (``Report``, filled by ``services/report.py``) and
pure rendering to one self-contained HTML page (charts as inline SVG, styles inline, nothing loaded
from anywhere) or Markdown (charts as PNG data URIs)."""

from __future__ import annotations

import base64
import datetime as dt
import html
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from matplotlib.figure import Figure
from shapely.geometry.base import BaseGeometry

from hiljade.export.report_charts import bar_chart, class_map, png_bytes, svg_text, week_chart
from hiljade.wording import plural

NO_AREA = "outside the named areas"
_MD_MARK = re.compile(r"([\\`*_\[\]#|<>])")
OTHER_WORDS = {"official": "official", "osm": "OSM"}


@dataclass(frozen=True)
class AreaClasses:
    """A reconciliation's three counts in one named area."""

    area: str
    both: int
    only_citizens: int
    only_other: int


@dataclass(frozen=True)
class ReconcileSection:
    """The newest stored reconciliation with one official list (or OpenStreetMap)."""

    kind: str  # official, osm
    list_name: str | None
    radius_m: float
    statuses: tuple[str, ...]
    run_at: dt.datetime
    sites: int  # sites considered: both + only citizens
    others: int  # placed official rows (or OSM nodes) considered: both + only other
    both: int
    only_citizens: int
    only_other: int
    not_placed: int
    areas: list[AreaClasses] = field(default_factory=list)
    points: list[tuple[float, float, str]] = field(default_factory=list)  # lon, lat, class

    @property
    def other(self) -> str:
        """What the sites were compared with, in words."""
        return OTHER_WORDS.get(self.kind, self.kind)

    @property
    def title(self) -> str:
        return f"the official list {self.list_name}" if self.kind == "official" else "OpenStreetMap"


@dataclass(frozen=True)
class Report:
    """Every number of the report."""

    generated_at: dt.datetime
    totals: list[tuple[str, int]]
    weeks: list[tuple[dt.date, int]]  # (Monday, new verified sites)
    areas: list[tuple[str, int]]  # (named area, verified sites), most first
    methods: list[tuple[str, int]]  # (how a location was found, located posts), most first
    reconciliations: list[ReconcileSection]
    outlines: list[tuple[str, BaseGeometry]] = field(default_factory=list)  # the named areas


def _area_rows(section: ReconcileSection) -> list[list[str]]:
    return [[a.area or NO_AREA, str(a.both), str(a.only_citizens), str(a.only_other)] for a in section.areas]


def section_words(section: ReconcileSection) -> str:
    """The counts in the words of `hiljade reconcile`'s summary line, then what was compared."""
    official = section.kind == "official"
    words = (
        f"{plural(section.sites, 'site')} vs {section.others} {'official' if official else 'OSM nodes'}: "
        f"{section.both} in both, {section.only_citizens} only citizens, "
        f"{section.only_other} only {section.other}"
    )
    if official:
        words += f", {plural(section.not_placed, 'official row')} not placed"
    return (
        f"{words}. Sites: {', '.join(section.statuses) or 'all'}; a pair is at most {section.radius_m:g} m "
        f"apart; compared {section.run_at:%Y-%m-%d %H:%M} UTC."
    )


Chart = Callable[[Figure, str], str]  # a figure and its words -> the markup that shows it


def _blocks(report: Report, table: Callable[[Sequence[str], list[list[str]]], str],
            heading: Callable[[int, str], str], para: Callable[[str], str], chart: Chart) -> list[str]:
    """The report's parts in order, in the markup the three callables write."""
    out = [heading(1, "Camera sites reported by citizens"),
           para(f"Report of {report.generated_at:%Y-%m-%d %H:%M} UTC."),
           heading(2, "Totals"),
           table(["", "count"], [[label, str(n)] for label, n in report.totals])]
    out.append(heading(2, "New verified sites per week"))
    if report.weeks:
        words = "new verified sites per week"
        out.append(chart(week_chart(report.weeks, words), words))
    else:
        out.append(para("No site has been verified yet."))
    out.append(heading(2, "Verified sites per named area"))
    if report.areas:
        rows = [(name or NO_AREA, n) for name, n in report.areas]
        out.append(chart(bar_chart(rows, "verified sites per named area"), "verified sites per named area"))
        out.append(table(["area", "verified sites"], [[name, str(n)] for name, n in rows]))
    else:
        out.append(para("No verified site yet."))
    out.append(heading(2, "Comparisons"))
    if not report.reconciliations:
        out.append(para("No comparison has been stored yet: run hiljade reconcile."))
    for section in report.reconciliations:
        out.append(heading(3, f"Compared with {section.title}"))
        out.append(para(section_words(section)))
        out.append(table(["area", "in both", "only citizens", f"only {section.other}"], _area_rows(section)))
        words = f"map: {section.title}"
        named = {a.area for a in section.areas if a.area}
        out.append(chart(class_map(section.points, report.outlines, words, section.other, named), words))
    out.append(heading(2, "How locations were found"))
    if report.methods:
        out.append(chart(bar_chart(report.methods, "located posts by method"), "located posts by method"))
        out.append(table(["method", "located posts"], [[label, str(n)] for label, n in report.methods]))
    else:
        out.append(para("No post has been located yet."))
    return out


CSS = """body{font:15px/1.45 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}
table{border-collapse:collapse;margin:.5rem 0 1.5rem}
td,th{border-bottom:1px solid #dee2e6;padding:.2rem .8rem}
td:not(:first-child),th:not(:first-child){text-align:right}
figure{margin:0 0 1rem}svg{max-width:100%;height:auto}"""
# nothing but inline styles and data: images; a stray reference to anything else is blocked
POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
SVG_NS = "http://www.w3.org/2000/svg"  # a standalone SVG image needs its namespace


def _html_parts(report: Report, chart: Chart) -> str:
    """The report's parts as HTML, each chart in the markup ``chart`` writes."""
    esc = html.escape

    def table(head: Sequence[str], rows: list[list[str]]) -> str:
        cells = "".join(f"<th>{esc(h)}</th>" for h in head)
        body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in rows)
        return f"<table><thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table>"

    def heading(level: int, text: str) -> str:
        return f"<h{level}>{esc(text)}</h{level}>"

    def para(text: str) -> str:
        return f"<p>{esc(text)}</p>"

    return "\n".join(_blocks(report, table, heading, para, chart))


def render_html(report: Report) -> str:
    """One self-contained HTML page: inline styles and SVG, no script, no reference to another file."""

    def chart(fig: Figure, words: str) -> str:
        return f'<figure role="img" aria-label="{html.escape(words)}">{svg_text(fig)}</figure>'

    parts = _html_parts(report, chart)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta http-equiv="Content-Security-Policy" content="{POLICY}">'
        f"<title>hiljade report {report.generated_at:%Y-%m-%d}</title><style>{CSS}</style></head>"
        f"<body>\n{parts}\n</body></html>\n"
    )


def render_html_body(report: Report) -> str:
    """The report's body for a page whose policy forbids inline styles (the web application): each
    chart an ``<img>`` of an SVG data URI (an image keeps its own styles), nothing else referenced."""

    def chart(fig: Figure, words: str) -> str:
        svg = svg_text(fig).replace("<svg", f'<svg xmlns="{SVG_NS}"', 1)
        data = base64.b64encode(svg.encode("utf-8")).decode("ascii")
        return f'<figure><img src="data:image/svg+xml;base64,{data}" alt="{html.escape(words)}"></figure>'

    return f'<div class="report">\n{_html_parts(report, chart)}\n</div>'


def _md(text: str) -> str:
    """Text safe in a Markdown table cell or paragraph."""
    return _MD_MARK.sub(r"\\\1", html.escape(text, quote=False).replace("\n", " "))


def render_markdown(report: Report) -> str:
    """The report as Markdown, its charts as PNG data URIs (one file, nothing linked)."""

    def table(head: Sequence[str], rows: list[list[str]]) -> str:
        lines = ["| " + " | ".join(_md(h) for h in head) + " |",
                 "|" + "|".join([" --- "] + [" ---: "] * (len(head) - 1)) + "|"]
        lines += ["| " + " | ".join(_md(c) for c in row) + " |" for row in rows]
        return "\n".join(lines) + "\n"

    def heading(level: int, text: str) -> str:
        return f"{'#' * level} {_md(text)}\n"

    def para(text: str) -> str:
        return _md(text) + "\n"

    def chart(fig: Figure, words: str) -> str:
        data = base64.b64encode(png_bytes(fig)).decode("ascii")
        return f"![{_md(words)}](data:image/png;base64,{data})\n"

    return "\n".join(_blocks(report, table, heading, para, chart))
