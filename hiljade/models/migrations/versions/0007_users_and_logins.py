"""users and login attempts

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 14:30:00

``users``: the people who may log in to the reviewers' desk (Argon2 password hashes, a role,
disabled, and a session version that ends every session when it changes). ``login_attempts``:
every login attempt by account name and client address, for throttling across worker processes.
Neither table goes into the researchers' copy of the database.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hiljade.models.schema import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(length=64), nullable=False, unique=True),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=256), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("session_version", sa.Integer(), nullable=False),
    )
    op.create_table(
        "login_attempts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.Column("at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_login_attempts_account_at", "login_attempts", ["account", "at"])
    op.create_index("ix_login_attempts_client_at", "login_attempts", ["client", "at"])


def downgrade() -> None:
    op.drop_index("ix_login_attempts_client_at", table_name="login_attempts")
    op.drop_index("ix_login_attempts_account_at", table_name="login_attempts")
    op.drop_table("login_attempts")
    op.drop_table("users")
