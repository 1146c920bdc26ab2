"""official lists, OpenStreetMap surveillance nodes, reconciliations

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 14:20:00

``official_lists`` and ``official_rows``: published lists of camera locations, every row kept
with its line, original text, position (when placed) and status. ``osm_surveillance``:
OpenStreetMap's ``man_made=surveillance`` nodes with their tags. ``reconciliations`` and
``reconciliation_pairs``: the stored results of ``hiljade reconcile``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hiljade.models.schema import JSONDoc, UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "official_lists",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(length=128), nullable=False, unique=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("date", sa.Date(), nullable=True),
        sa.Column("file_name", sa.String(length=512), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("imported_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("counts", JSONDoc, nullable=False),
    )
    op.create_table(
        "official_rows",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "list_id", sa.Integer(), sa.ForeignKey("official_lists.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("original", sa.Text(), nullable=False),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("method", sa.String(length=32), nullable=True),
        sa.Column("precision_m", sa.Float(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.UniqueConstraint("list_id", "line"),
    )
    op.create_index("ix_official_rows_list_id", "official_rows", ["list_id"])
    op.create_index("ix_official_rows_status", "official_rows", ["status"])
    op.create_table(
        "osm_surveillance",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("osm_type", sa.String(length=8), nullable=False),
        sa.Column("osm_id", sa.BigInteger(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("tags", JSONDoc, nullable=False),
        sa.Column("imported_at", UTCDateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("osm_type", "osm_id"),
    )
    op.create_table(
        "reconciliations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("list_name", sa.String(length=128), nullable=True),
        sa.Column("radius_m", sa.Float(), nullable=False),
        sa.Column("statuses", JSONDoc, nullable=False),
        sa.Column("run_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("counts", JSONDoc, nullable=False),
    )
    op.create_index("ix_reconciliations_list_name", "reconciliations", ["list_name"])
    op.create_index("ix_reconciliations_run_at", "reconciliations", ["run_at"])
    op.create_table(
        "reconciliation_pairs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "reconciliation_id",
            sa.Integer(),
            sa.ForeignKey("reconciliations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("site_id", sa.Integer(), nullable=True),
        sa.Column("other_id", sa.Integer(), nullable=True),
        sa.Column("class", sa.String(length=16), nullable=False),
        sa.Column("distance_m", sa.Float(), nullable=True),
        sa.Column("area", sa.String(length=256), nullable=True),
    )
    op.create_index(
        "ix_reconciliation_pairs_reconciliation_id", "reconciliation_pairs", ["reconciliation_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_reconciliation_pairs_reconciliation_id", table_name="reconciliation_pairs")
    op.drop_table("reconciliation_pairs")
    op.drop_index("ix_reconciliations_run_at", table_name="reconciliations")
    op.drop_index("ix_reconciliations_list_name", table_name="reconciliations")
    op.drop_table("reconciliations")
    op.drop_table("osm_surveillance")
    op.drop_index("ix_official_rows_status", table_name="official_rows")
    op.drop_index("ix_official_rows_list_id", table_name="official_rows")
    op.drop_table("official_rows")
    op.drop_table("official_lists")
