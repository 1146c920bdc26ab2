"""The charts of the report, drawn with matplotlib's object API (no pyplot, no global state):
bars for counts, a weekly column chart, and a map of a reconciliation's three classes as a scatter
over the named areas' outlines. Each figure is returned as inline SVG text or PNG bytes."""

from __future__ import annotations

import datetime as dt
import io
import math
import re
from collections.abc import Collection, Iterator, Sequence

import matplotlib
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from shapely.geometry.base import BaseGeometry

matplotlib.use("Agg")  # no display: figures are only written to bytes

# Plain text everywhere (a "$" in a place name is not mathematics), reproducible ids, text kept as
# text in SVG (no glyph definitions repeated in every chart).
STYLE = {"text.parse_math": False, "svg.hashsalt": "hiljade", "svg.fonttype": "none", "font.size": 9}
CLASS_STYLE = {  # class -> (colour, marker, legend words; "other" is filled in by the caller)
    "both": ("#2b8a3e", "o", "in both"),
    "only_citizens": ("#d9480f", "^", "only citizens"),
    "only_other": ("#1c7ed6", "s", "only {other}"),
}
BAR = "#495057"
_HEADER = re.compile(r"\A.*?(?=<svg)", re.S)
_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.S)
_NAMESPACE = re.compile(r'\s+xmlns(?::\w+)?="[^"]*"')


def svg_text(fig: Figure) -> str:
    """The figure as an ``<svg>`` element to put inline in HTML: no XML header, no RDF metadata and
    no namespace declarations (HTML knows inline SVG without them; nothing refers to another host)."""
    buffer = io.StringIO()
    with matplotlib.rc_context(STYLE):
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    text = _METADATA.sub("", _HEADER.sub("", buffer.getvalue(), count=1))
    return _NAMESPACE.sub("", text).replace("xlink:href", "href")


def png_bytes(fig: Figure) -> bytes:
    """The figure as PNG bytes (for the Markdown report)."""
    buffer = io.BytesIO()
    with matplotlib.rc_context(STYLE):
        fig.savefig(buffer, format="png", dpi=110, metadata={"Software": None})
    return buffer.getvalue()


def _figure(width: float, height: float) -> Figure:
    with matplotlib.rc_context(STYLE):
        return Figure(figsize=(width, height), layout="constrained")


def bar_chart(rows: Sequence[tuple[str, int]], title: str) -> Figure:
    """Horizontal bars, the first row on top."""
    with matplotlib.rc_context(STYLE):
        fig = _figure(7, 0.8 + 0.3 * max(len(rows), 1))
        ax = fig.add_subplot()
        labels = [label for label, _ in rows][::-1]
        values = [value for _, value in rows][::-1]
        ax.barh(range(len(rows)), values, color=BAR)
        ax.set_yticks(range(len(rows)), labels)
        for y, value in enumerate(values):
            ax.annotate(str(value), (value, y), xytext=(3, 0), textcoords="offset points", va="center")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(title, loc="left")
        ax.spines[["top", "right"]].set_visible(False)
        ax.margins(x=0.12)
    return fig


def week_chart(weeks: Sequence[tuple[dt.date, int]], title: str) -> Figure:
    """One column per week (its Monday on the axis)."""
    with matplotlib.rc_context(STYLE):
        fig = _figure(7, 2.6)
        ax = fig.add_subplot()
        ax.bar([start for start, _ in weeks], [n for _, n in weeks], width=5, color=BAR)
        ax.set_title(title, loc="left")
        ax.set_ylabel("sites")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.spines[["top", "right"]].set_visible(False)
        fig.autofmt_xdate()
    return fig


def _rings(shape: BaseGeometry) -> Iterator[tuple[list[float], list[float]]]:
    polygons = getattr(shape, "geoms", [shape])
    for polygon in polygons:
        exterior = getattr(polygon, "exterior", None)
        if exterior is not None:
            xs, ys = exterior.xy
            yield list(xs), list(ys)


def class_map(
    points: Sequence[tuple[float, float, str]],
    outlines: Sequence[tuple[str, BaseGeometry]],
    title: str,
    other: str,
    named: Collection[str] = (),
) -> Figure:
    """The reconciliation's points (lon, lat, class) over the named areas' outlines; the areas in
    ``named`` carry their name."""
    with matplotlib.rc_context(STYLE):
        fig = _figure(7, 6)
        ax = fig.add_subplot()
        for name, shape in outlines:
            for xs, ys in _rings(shape):
                ax.plot(xs, ys, color="#adb5bd", linewidth=0.8)
            if name in named:
                centre = shape.representative_point()
                ax.annotate(name, (centre.x, centre.y), color="#868e96", ha="center", fontsize=7)
        size = 36 if len(points) <= 60 else 10
        for cls, (colour, marker, words) in CLASS_STYLE.items():
            chosen = [(lon, lat) for lon, lat, c in points if c == cls]
            ax.scatter([p[0] for p in chosen], [p[1] for p in chosen], s=size, c=colour, alpha=0.85,
                       marker=marker, label=f"{words.format(other=other)} ({len(chosen)})", linewidths=0)
        if points:  # the map shows where the points are, with a margin
            _zoom(ax, [p[0] for p in points], [p[1] for p in points])
        lats = [lat for _, lat, _ in points] or [shape.centroid.y for _, shape in outlines] or [0.0]
        ax.set_aspect(1 / math.cos(math.radians(sum(lats) / len(lats))))  # a degree of longitude is shorter
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(title, loc="left")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, 0), ncols=3, frameon=False)
    return fig


def _zoom(ax: Axes, lons: Sequence[float], lats: Sequence[float]) -> None:
    pad = max(max(lons) - min(lons), max(lats) - min(lats), 0.004) * 0.08
    ax.set_xlim(min(lons) - pad, max(lons) + pad)
    ax.set_ylim(min(lats) - pad, max(lats) + pad)
