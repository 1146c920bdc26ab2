"""publishable photos

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 14:40:00

``media.publishable``: a reviewer marked the photo fit for the public site page (default: not);
``media.published``: the public copy, re-encoded without any metadata, with its content type,
who published it and when. Existing photos start unpublished.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hiljade.models.schema import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("media", schema=None) as batch_op:
        batch_op.add_column(sa.Column("publishable", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("published", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("published_type", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("published_by", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("published_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("media", schema=None) as batch_op:
        for column in ("published_at", "published_by", "published_type", "published", "publishable"):
            batch_op.drop_column(column)
