"""instance settings and single sign-on state

Revision ID: 0002_instance_settings
Revises: 0001
Create Date: 2026-11-24 21:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_instance_settings"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "instance_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "sso_pending_logins",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("provider_id", sa.String(length=100), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sso_pending_logins", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sso_pending_logins_expires_at"), ["expires_at"], unique=False)

    op.create_table(
        "sso_seen_messages",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sso_seen_messages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sso_seen_messages_expires_at"), ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sso_seen_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sso_seen_messages_expires_at"))

    op.drop_table("sso_seen_messages")
    with op.batch_alter_table("sso_pending_logins", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sso_pending_logins_expires_at"))

    op.drop_table("sso_pending_logins")
    op.drop_table("instance_settings")
