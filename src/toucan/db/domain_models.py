"""Tables of loaded data: immutable versions of an app's domains, and each stage's head.

A version lists Parquet files (one per domain). Loading writes new files, then creates a
version and moves the stage's head in one transaction; release points production's head
at staging's version. Files are shared between versions, never rewritten.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from toucan.db.models import Base, TZDateTime, utcnow


class DomainVersion(Base):
    __tablename__ = "domain_versions"
    __table_args__ = (Index("ix_domain_versions_app", "app_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("small_apps.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(255))
    # Set when no stage points at this version any more; deleted after a grace period.
    superseded_at: Mapped[datetime | None] = mapped_column(TZDateTime())


class DomainTable(Base):
    __tablename__ = "domain_tables"

    version_id: Mapped[str] = mapped_column(ForeignKey("domain_versions.id", ondelete="CASCADE"), primary_key=True)
    domain: Mapped[str] = mapped_column(String(255), primary_key=True)
    file: Mapped[str] = mapped_column(String(255))
    rows: Mapped[int] = mapped_column(BigInteger)
    columns: Mapped[list[Any]] = mapped_column(JSON)


class StageHead(Base):
    __tablename__ = "stage_heads"

    app_id: Mapped[str] = mapped_column(ForeignKey("small_apps.id", ondelete="CASCADE"), primary_key=True)
    stage: Mapped[str] = mapped_column(String(20), primary_key=True)
    version_id: Mapped[str] = mapped_column(ForeignKey("domain_versions.id"))
    updated_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)
