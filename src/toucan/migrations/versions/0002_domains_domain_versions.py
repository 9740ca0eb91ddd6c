"""domain versions

Revision ID: 0002_domains
Revises: 0001
Create Date: 2026-11-24 20:17:11.361315
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_domains"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "domain_versions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("app_id", sa.String(length=30), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=True),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["app_id"], ["small_apps.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("domain_versions", schema=None) as batch_op:
        batch_op.create_index("ix_domain_versions_app", ["app_id"], unique=False)

    op.create_table(
        "domain_tables",
        sa.Column("version_id", sa.String(length=36), nullable=False),
        sa.Column("domain", sa.String(length=255), nullable=False),
        sa.Column("file", sa.String(length=255), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("columns", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["version_id"], ["domain_versions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("version_id", "domain"),
    )
    op.create_table(
        "stage_heads",
        sa.Column("app_id", sa.String(length=30), nullable=False),
        sa.Column("stage", sa.String(length=20), nullable=False),
        sa.Column("version_id", sa.String(length=36), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["app_id"], ["small_apps.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["domain_versions.id"],
        ),
        sa.PrimaryKeyConstraint("app_id", "stage"),
    )


def downgrade() -> None:

    op.drop_table("stage_heads")
    op.drop_table("domain_tables")
    with op.batch_alter_table("domain_versions", schema=None) as batch_op:
        batch_op.drop_index("ix_domain_versions_app")

    op.drop_table("domain_versions")
