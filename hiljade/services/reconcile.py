"""Reconciliation: import OSM's surveillance nodes, and compare the sites with an official list or with
those nodes, one to one, overall and per named area; the result is stored for the web and exports."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from shapely.geometry.base import BaseGeometry

from hiljade.config import Config
from hiljade.errors import ConfigError
from hiljade.harvester.osm_surveillance import SurveillanceNode, fetch_surveillance, read_surveillance
from hiljade.models.reconcile import (
    latest_reconciliation,
    official_list_id,
    official_list_names,
    official_points,
    osm_points,
    save_osm_nodes,
    save_reconciliation,
    site_points,
)
from hiljade.models.store import Store
from hiljade.pipeline.gazetteer import Gazetteer
from hiljade.pipeline.reconcile import Reconciliation, reconcile
from hiljade.services.gazetteer import load_area, newest_gazetteer
from hiljade.wording import plural

OSM = "osm"
OFFICIAL = "official"
# a named area covering this share of the whole area (the city itself) is too big to count by
CITY_SHARE = 0.9


@dataclass(frozen=True)
class Comparison:
    """What to compare the sites with: ``official`` and a list name, or ``osm``."""

    kind: str
    list_name: str | None = None

    @classmethod
    def parse(cls, text: str) -> Comparison:
        """``official:NAME`` or ``osm``; ConfigError otherwise."""
        kind, _, name = text.partition(":")
        if kind == OSM and not name:
            return cls(OSM)
        if kind == OFFICIAL and name.strip():
            return cls(OFFICIAL, name.strip())
        raise ConfigError([f"--with: give official:NAME (an imported list) or osm, not {text}"])

    @property
    def label(self) -> str:
        """How the summary names the other side."""
        return "official" if self.kind == OFFICIAL else "OSM nodes"


@dataclass(frozen=True)
class Result:
    """A stored reconciliation: its id, the comparison, radius, statuses and the matching itself."""

    id: int
    comparison: Comparison
    radius_m: float
    statuses: tuple[str, ...]
    reconciliation: Reconciliation

    def summary(self) -> str:
        """The one-line summary: how many sites against how many others, and the three classes."""
        c, other = self.reconciliation.counts, self.comparison.label
        only = "official" if self.comparison.kind == OFFICIAL else "OSM"
        line = (
            f"reconcile: {plural(c['sites'], 'site')} vs {c['others']} {other}: {c['both']} in both, "
            f"{c['only_citizens']} only citizens, {c['only_other']} only {only}"
        )
        if self.comparison.kind == OFFICIAL:
            line += f", {plural(c['not_placed'], 'official row')} not placed"
        return line


def import_osm_surveillance(store: Store, path: Path) -> tuple[int, dict[str, int]]:
    """Read a file of OSM surveillance nodes into the store (one transaction); (nodes read, counts of
    new, changed and unchanged ones). The same file again changes nothing."""
    nodes = read_surveillance(path)
    with store.transaction() as conn:
        counts = save_osm_nodes(conn, [_node_row(n) for n in nodes], dt.datetime.now(dt.UTC))
    return len(nodes), counts


def fetch_osm_surveillance(config: Config, store: Store, output: Path) -> tuple[int, dict[str, int]]:
    """Ask the Overpass API for the area's surveillance nodes into ``output``, then import them."""
    area = load_area(config)
    if area is None:
        raise ConfigError(["area.boundary: `osm surveillance import --fetch` needs the area; set it"])
    fetch_surveillance(
        area.bounds, url=config.get("gazetteer.overpass_url"), user_agent=config.get("user_agent"), out=output
    )
    return import_osm_surveillance(store, output)


def _node_row(node: SurveillanceNode) -> dict[str, object]:
    return {
        "osm_type": node.osm_type,
        "osm_id": node.osm_id,
        "lat": node.lat,
        "lon": node.lon,
        "tags": dict(node.tags),
    }


def named_areas(gazetteer: Gazetteer | None) -> list[tuple[str, BaseGeometry]]:
    """The gazetteer's named areas drawn as polygons, largest first (municipalities before their
    neighbourhoods), without those as big as the city itself."""
    if gazetteer is None:
        return []
    polygons = [
        (e.name, e.geometry)
        for e in gazetteer.entries
        if e.kind == "area" and e.geometry is not None and e.geometry.geom_type in ("Polygon", "MultiPolygon")
    ]
    whole = gazetteer.area
    kept = [
        (name, geom)
        for name, geom in polygons
        if whole is None or not whole.area or geom.intersection(whole).area < CITY_SHARE * whole.area
    ]
    return sorted(kept, key=lambda item: (-item[1].area, item[0]))


def reconcile_sites(
    config: Config,
    store: Store,
    comparison: Comparison,
    *,
    radius_m: float | None = None,
    statuses: Sequence[str] = (),
) -> Result:
    """Compare the sites of ``statuses`` with the other set, store the result (replacing the earlier
    one of the same comparison) and return it."""
    radius = float(radius_m if radius_m is not None else config.get("reconcile.radius_m"))
    if not radius > 0:
        raise ConfigError([f"--radius: must be a positive number of metres, not {radius:g}"])
    configured = config.get("reconcile.statuses") or ["verified"]
    chosen = tuple(statuses) or tuple([configured] if isinstance(configured, str) else configured)
    with store.connect() as conn:
        sites = site_points(conn, chosen)
        if comparison.kind == OFFICIAL:
            list_id = official_list_id(conn, comparison.list_name or "")
            if list_id is None:
                names = ", ".join(official_list_names(conn)) or "none yet"
                raise ConfigError(
                    [
                        f"--with: no official list called {comparison.list_name} (imported: {names}); "
                        "import it with `hiljade official import FILE --list NAME`"
                    ]
                )
            others, unplaced = official_points(conn, list_id)
        else:
            others, unplaced = osm_points(conn), []
    _, gazetteer = newest_gazetteer(config, store)
    result = reconcile(sites, others, radius, not_placed=unplaced, areas=named_areas(gazetteer))
    counts = {**result.counts, "areas": result.areas}
    with store.transaction() as conn:
        rec_id = save_reconciliation(
            conn,
            kind=comparison.kind,
            list_name=comparison.list_name,
            radius_m=radius,
            statuses=chosen,
            counts=counts,
            pairs=result.pairs,
            now=dt.datetime.now(dt.UTC),
        )
    return Result(rec_id, comparison, radius, chosen, result)


def stored_reconciliation(store: Store, comparison: Comparison) -> dict[str, object] | None:
    """The stored result of one comparison (without its pairs), or None when it never ran."""
    with store.connect() as conn:
        return latest_reconciliation(conn, comparison.kind, comparison.list_name)
