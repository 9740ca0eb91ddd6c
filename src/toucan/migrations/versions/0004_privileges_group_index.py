"""index of privileges by group

Revision ID: 0004_privileges_group
Revises: 0003_jobs
Create Date: 2026-12-02 16:20:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0004_privileges_group"
down_revision = "0003_jobs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("privileges", schema=None) as batch_op:
        batch_op.create_index("ix_privileges_group", ["group_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("privileges", schema=None) as batch_op:
        batch_op.drop_index("ix_privileges_group")
