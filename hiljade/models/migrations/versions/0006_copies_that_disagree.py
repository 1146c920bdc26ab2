"""post copies that disagree with their post

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 14:00:00

``post_copies.disagrees``: what of a copy (text, hashtags, media) disagrees with the post as
stored. A server other than the post's home server never changes the post; its disagreeing copy
is flagged here for a reviewer. Existing copies start as agreeing (nothing was compared before).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("post_copies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("disagrees", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("post_copies", schema=None) as batch_op:
        batch_op.drop_column("disagrees")
