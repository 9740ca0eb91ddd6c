"""the language each user chose (null: the browser's applies)

Revision ID: 0009_user_locale
Revises: 0008_reports
Create Date: 2026-12-06 00:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_user_locale"
down_revision = "0008_reports"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable, no default: existing users keep following their browser's language.
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("locale", sa.String(length=10), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("locale")
