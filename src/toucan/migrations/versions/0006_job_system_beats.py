"""signs of life of job workers and schedulers

Revision ID: 0006_job_system_beats
Revises: 0005_login_attempts
Create Date: 2026-12-05 02:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_job_system_beats"
down_revision = "0005_login_attempts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_system_beats",
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("beat_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("job_system_beats")
