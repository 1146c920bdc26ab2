"""sites, duplicate links, review log, deletions

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 14:29:09.057184
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import hiljade.models.schema

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "review_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", hiljade.models.schema.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reviewer", sa.String(length=128), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("target", sa.String(length=32), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column(
            "details",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("review_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_review_log_at"), ["at"], unique=False)

    op.create_table(
        "sites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("reports", sa.Integer(), nullable=False),
        sa.Column("independent_reports", sa.Integer(), nullable=False),
        sa.Column("camera_count", sa.Integer(), nullable=True),
        sa.Column("camera_type", sa.String(length=32), nullable=True),
        sa.Column("camera_mount", sa.String(length=32), nullable=True),
        sa.Column("camera_model", sa.String(length=64), nullable=True),
        sa.Column("camera_direction", sa.Float(), nullable=True),
        sa.Column("first_seen", hiljade.models.schema.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_seen", hiljade.models.schema.UTCDateTime(timezone=True), nullable=True),
        sa.Column("verified_at", hiljade.models.schema.UTCDateTime(timezone=True), nullable=True),
        sa.Column("verified_by", sa.String(length=128), nullable=True),
        sa.Column("created_at", hiljade.models.schema.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", hiljade.models.schema.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sites_status"), ["status"], unique=False)

    op.create_table(
        "post_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("duplicate_of", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("distance", sa.Float(), nullable=True),
        sa.Column("created_at", hiljade.models.schema.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["duplicate_of"], ["posts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["post_id"], ["posts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("post_id", "duplicate_of", "reason"),
    )
    with op.batch_alter_table("post_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_post_links_duplicate_of"), ["duplicate_of"], unique=False)
        batch_op.create_index(batch_op.f("ix_post_links_post_id"), ["post_id"], unique=False)

    with op.batch_alter_table("harvest_cursors", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pagination_token", sa.String(length=512), nullable=True))

    with op.batch_alter_table("media", schema=None) as batch_op:
        batch_op.add_column(sa.Column("phash", sa.String(length=32), nullable=True))

    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("quote_of_uri", sa.String(length=2048), nullable=True))
        batch_op.add_column(
            sa.Column("checked_at", hiljade.models.schema.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("deleted_at", hiljade.models.schema.UTCDateTime(timezone=True), nullable=True)
        )

    with op.batch_alter_table("sightings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("site_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("reviewed_by", sa.String(length=128), nullable=True))
        batch_op.add_column(
            sa.Column("reviewed_at", hiljade.models.schema.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(batch_op.f("ix_sightings_site_id"), ["site_id"], unique=False)
        batch_op.create_foreign_key("fk_sightings_site_id", "sites", ["site_id"], ["id"], ondelete="SET NULL")


def downgrade() -> None:

    with op.batch_alter_table("sightings", schema=None) as batch_op:
        # WARNING: constraint name is None; this directive will fail as
        # rendered.  Add a name, or use a naming convention; see
        # https://alembic.sqlalchemy.org/en/latest/naming.html
        batch_op.drop_constraint("fk_sightings_site_id", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_sightings_site_id"))
        batch_op.drop_column("reviewed_at")
        batch_op.drop_column("reviewed_by")
        batch_op.drop_column("site_id")

    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.drop_column("deleted_at")
        batch_op.drop_column("checked_at")
        batch_op.drop_column("quote_of_uri")

    with op.batch_alter_table("media", schema=None) as batch_op:
        batch_op.drop_column("phash")

    with op.batch_alter_table("harvest_cursors", schema=None) as batch_op:
        batch_op.drop_column("pagination_token")

    with op.batch_alter_table("post_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_post_links_post_id"))
        batch_op.drop_index(batch_op.f("ix_post_links_duplicate_of"))

    op.drop_table("post_links")
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sites_status"))

    op.drop_table("sites")
    with op.batch_alter_table("review_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_review_log_at"))

    op.drop_table("review_log")
