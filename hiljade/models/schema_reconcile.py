"""Tables of the comparisons: official lists of camera locations, OpenStreetMap's surveillance nodes,
and the stored reconciliations of sites with either. docs/schema.md explains every column.

The tables join ``Base.metadata`` here (``schema.py`` is at its size limit); migration 0009 creates
them. Import this module wherever the tables are used.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, Date, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hiljade.models.schema import Base, JSONDoc, UTCDateTime

ROW_STATUSES = ("placed", "street_only", "not_placed", "outside_area", "duplicate")
PAIR_CLASSES = ("both", "only_citizens", "only_other", "not_placed")


class OfficialList(Base):
    """One imported list of camera locations (a police list, a city's answer to a request)."""

    __tablename__ = "official_lists"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    source: Mapped[str | None] = mapped_column(Text)
    date: Mapped[dt.date | None] = mapped_column(Date)
    file_name: Mapped[str] = mapped_column(String(512))
    sha256: Mapped[str] = mapped_column(String(64))
    imported_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    counts: Mapped[dict[str, Any]] = mapped_column(JSONDoc)


class OfficialRow(Base):
    """One row of an official list, kept whether or not it could be placed."""

    __tablename__ = "official_rows"
    __table_args__ = (UniqueConstraint("list_id", "line"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("official_lists.id", ondelete="CASCADE"), index=True)
    line: Mapped[int] = mapped_column(Integer)
    original: Mapped[str] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(Text)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    method: Mapped[str | None] = mapped_column(String(32))
    precision_m: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16), index=True)
    reason: Mapped[str | None] = mapped_column(Text)


class OsmSurveillance(Base):
    """An OpenStreetMap ``man_made=surveillance`` node with the tags hiljade compares."""

    __tablename__ = "osm_surveillance"
    __table_args__ = (UniqueConstraint("osm_type", "osm_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    osm_type: Mapped[str] = mapped_column(String(8))
    osm_id: Mapped[int] = mapped_column(BigInteger)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    tags: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    imported_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class Reconciliation(Base):
    """One run of ``hiljade reconcile``: sites against an official list or OpenStreetMap."""

    __tablename__ = "reconciliations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # official, osm
    list_name: Mapped[str | None] = mapped_column(String(128), index=True)
    radius_m: Mapped[float] = mapped_column(Float)
    statuses: Mapped[list[str]] = mapped_column(JSONDoc)
    run_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
    counts: Mapped[dict[str, Any]] = mapped_column(JSONDoc)


class ReconciliationPair(Base):
    """A matched pair, or an item of either side left unmatched, in one reconciliation."""

    __tablename__ = "reconciliation_pairs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reconciliation_id: Mapped[int] = mapped_column(
        ForeignKey("reconciliations.id", ondelete="CASCADE"), index=True
    )
    site_id: Mapped[int | None] = mapped_column(Integer)
    other_id: Mapped[int | None] = mapped_column(Integer)
    class_: Mapped[str] = mapped_column("class", String(16))
    distance_m: Mapped[float | None] = mapped_column(Float)
    area: Mapped[str | None] = mapped_column(String(256))
