"""media exif, erased posts in the ledger

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 15:20:14.319314
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:

    with op.batch_alter_table("harvest_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("erased_posts", sa.Integer(), server_default="0", nullable=False))

    with op.batch_alter_table("media", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "exif",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )


def downgrade() -> None:

    with op.batch_alter_table("media", schema=None) as batch_op:
        batch_op.drop_column("exif")

    with op.batch_alter_table("harvest_runs", schema=None) as batch_op:
        batch_op.drop_column("erased_posts")
