"""Tables of scheduled reports: a report (pages, variables, recipients, schedule) and the
execution log of its runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from toucan.db.models import Base, TZDateTime, utcnow


class Report(Base):
    __tablename__ = "reports"
    __table_args__ = (Index("ix_reports_due", "paused", "next_run_at"), Index("ix_reports_owner", "owner"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("small_apps.id", ondelete="CASCADE"))
    owner: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(200))
    stage: Mapped[str] = mapped_column(String(20), default="production")
    # "home" and "story:<id>", in order: one PDF page each.
    pages: Mapped[list[str]] = mapped_column(JSON)
    variables: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    recipients: Mapped[list[str]] = mapped_column(JSON, default=list)
    cron: Mapped[str] = mapped_column(String(120))
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    budget_seconds: Mapped[int] = mapped_column(Integer, default=300)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    next_run_at: Mapped[datetime | None] = mapped_column(TZDateTime())
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)


class ReportRun(Base):
    """One run of a report: scheduled, a retry, or a test run; its job, its end and its PDF."""

    __tablename__ = "report_runs"
    __table_args__ = (Index("ix_report_runs_report", "report_id", "id"), Index("ix_report_runs_state", "state"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"))
    trigger: Mapped[str] = mapped_column(String(20))  # schedule, retry, manual
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    scheduled_for: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)
    # queued → running → succeeded | failed
    state: Mapped[str] = mapped_column(String(20), default="queued")
    job_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(TZDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(TZDateTime())
    error: Mapped[str | None] = mapped_column(Text)
    # When a failed run is tried again (None: not to be), and whether it was.
    retry_at: Mapped[datetime | None] = mapped_column(TZDateTime())
    retried: Mapped[bool] = mapped_column(Boolean, default=False)
    file_size: Mapped[int | None] = mapped_column(Integer)
