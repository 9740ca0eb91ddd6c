"""the release history of each app

Revision ID: 0007_releases
Revises: 0006_job_system_beats
Create Date: 2026-12-14 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_releases"
down_revision = "0006_job_system_beats"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "releases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("app_id", sa.String(length=30), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=True),
        sa.Column("design", sa.Boolean(), nullable=False),
        sa.Column("data", sa.Boolean(), nullable=False),
        sa.Column("rollback_of", sa.Integer(), nullable=True),
        sa.Column("config_versions", sa.JSON(), nullable=False),
        sa.Column("domain_version", sa.String(length=36), nullable=True),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("kept", sa.Boolean(), nullable=False),
        sa.Column("configs", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["app_id"], ["small_apps.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("releases", schema=None) as batch_op:
        batch_op.create_index("ix_releases_app_id", ["app_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("releases", schema=None) as batch_op:
        batch_op.drop_index("ix_releases_app_id")
    op.drop_table("releases")
