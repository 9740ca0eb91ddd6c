"""Tables of data loading: background jobs and their log, uploaded data-source files,
resumable upload sessions, per-app secrets and the job system's signs of life."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from toucan.db.models import Base, TZDateTime, utcnow


class Job(Base):
    """One background job (preprocess, release…); its state is the source of truth for the API."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_app_created", "app_id", "created_at"), Index("ix_jobs_state", "state"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    app_id: Mapped[str | None] = mapped_column(ForeignKey("small_apps.id", ondelete="CASCADE"))
    stage: Mapped[str | None] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(50))
    # queued → running → succeeded | failed
    state: Mapped[str] = mapped_column(String(20), default="queued")
    progress: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(TZDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(TZDateTime())
    heartbeat_at: Mapped[datetime | None] = mapped_column(TZDateTime())
    worker: Mapped[str | None] = mapped_column(String(255))
    error: Mapped[str | None] = mapped_column(Text)
    # Builder-facing detail of a failure: a validation report or the traceback of augment code.
    traceback: Mapped[str | None] = mapped_column(Text)


class JobLogLine(Base):
    __tablename__ = "job_log_lines"
    __table_args__ = (Index("ix_job_log_lines_job", "job_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)
    level: Mapped[str] = mapped_column(String(10), default="info")
    message: Mapped[str] = mapped_column(Text)


class DataSourceFile(Base):
    """An uploaded file that an etl_config names (`DATA_SOURCES[].file`)."""

    __tablename__ = "data_source_files"

    app_id: Mapped[str] = mapped_column(ForeignKey("small_apps.id", ondelete="CASCADE"), primary_key=True)
    filename: Mapped[str] = mapped_column(String(255), primary_key=True)
    # The stored file under <data dir>/sources/<app>/; a new upload writes a new one.
    stored_as: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)
    uploaded_by: Mapped[str | None] = mapped_column(String(255))


class UploadSession(Base):
    """A chunked upload in progress: bytes are appended at `received` until `size`."""

    __tablename__ = "upload_sessions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("small_apps.id", ondelete="CASCADE"))
    filename: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    received: Mapped[int] = mapped_column(BigInteger, default=0)
    created_by: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)


class AppSecret(Base):
    """A per-app secret, encrypted with a key derived from TOUCAN_SECRET_KEY."""

    __tablename__ = "app_secrets"

    app_id: Mapped[str] = mapped_column(ForeignKey("small_apps.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(255))


class JobSystemBeat(Base):
    """The last sign of life of one worker or scheduler process, for /ready on every replica."""

    __tablename__ = "job_system_beats"

    # "<kind>:<host>:<pid>"
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # worker | scheduler
    started_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)
    beat_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)
