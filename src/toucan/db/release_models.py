"""The release history: one row per release of an app (design, data or both) or rollback.

A row records who released and when, what changed, and production's state right after it:
the config versions and contents and the domain version. The newest rows (`kept`) keep that
state so production can be rolled back to it; older rows keep who, when and what only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from toucan.db.models import Base, TZDateTime, utcnow


class Release(Base):
    __tablename__ = "releases"
    __table_args__ = (Index("ix_releases_app_id", "app_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("small_apps.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(255))
    # What this release moved: staging's design, staging's data (both for a rollback).
    design: Mapped[bool] = mapped_column(Boolean)
    data: Mapped[bool] = mapped_column(Boolean)
    # The release whose state a rollback brought back (an id of the same app).
    rollback_of: Mapped[int | None] = mapped_column(Integer)
    # Production right after: the version of each config kind, and the domain version (none
    # when production had no data). No foreign key: a version may be collected once not kept.
    config_versions: Mapped[dict[str, Any]] = mapped_column(JSON)
    domain_version: Mapped[str | None] = mapped_column(String(36))
    # What changed in production (toucan.data.release_diff's summary).
    changes: Mapped[dict[str, Any]] = mapped_column(JSON)
    # The newest releases of an app are kept: `configs` holds production's config documents
    # by kind and `domain_version` is never garbage-collected; older rows have `configs` NULL.
    kept: Mapped[bool] = mapped_column(Boolean, default=True)
    configs: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
