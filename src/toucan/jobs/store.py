"""Job records: what the API shows and what workers update (state, progress, log, error).

A job is created `queued` in the request that asks for it, then sent to the broker. A worker
claims it (`queued` → `running` in one UPDATE, so a redelivered message runs nothing twice),
sends heartbeats while it runs, and ends it `succeeded` or `failed`. A running job whose
heartbeats stopped (its worker was killed) is marked failed by `reap_stale`, which the
scheduler, every worker at start and every job read call.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import select, update

from toucan.db.engine import Database
from toucan.db.etl_models import Job, JobLogLine
from toucan.errors import NotFound

MAX_LOG_LINES = 2000


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class JobKind(StrEnum):
    PREPROCESS = "preprocess"
    RELEASE = "release"
    BACKUP = "backup"
    RESTORE = "restore"
    EXPORT = "export"
    REPORT = "report"


@dataclass(frozen=True)
class JobView:
    id: str
    app_id: str | None
    stage: str | None
    kind: str
    state: str
    progress: int
    created_by: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None
    traceback: str | None
    log: list[dict[str, Any]]

    def as_json(self, *, with_log: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "app": self.app_id,
            "stage": self.stage,
            "kind": self.kind,
            "state": self.state,
            "progress": self.progress,
            "created_by": self.created_by,
            "created_at": _iso(self.created_at),
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "error": self.error,
        }
        if with_log:
            out["traceback"] = self.traceback
            out["log"] = self.log
        return out


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _now() -> datetime:
    return datetime.now(UTC)


class JobStore:
    def __init__(self, db: Database, heartbeat_timeout: float) -> None:
        self.db = db
        self.heartbeat_timeout = heartbeat_timeout

    # --- requests ------------------------------------------------------------------------

    def create(self, kind: JobKind, *, app_id: str | None, stage: str | None, author: str | None) -> str:
        job_id = str(uuid.uuid4())
        with self.db.session() as session:
            session.add(Job(id=job_id, app_id=app_id, stage=stage, kind=kind.value, created_by=author))
        return job_id

    def get(self, job_id: str, *, app_id: str | None = None) -> JobView:
        self.reap_stale()
        with self.db.readonly_session() as session:
            job = session.get(Job, job_id)
            if job is None or (app_id is not None and job.app_id != app_id):
                raise NotFound(f"No job {job_id!r}.", details={"job": job_id})
            lines = session.scalars(
                select(JobLogLine).where(JobLogLine.job_id == job_id).order_by(JobLogLine.id).limit(MAX_LOG_LINES)
            ).all()
            return _view(job, [{"at": _iso(line.at), "level": line.level, "message": line.message} for line in lines])

    def list_for_app(self, app_id: str, *, limit: int = 50) -> list[JobView]:
        self.reap_stale()
        with self.db.readonly_session() as session:
            jobs = session.scalars(
                select(Job).where(Job.app_id == app_id).order_by(Job.created_at.desc(), Job.id).limit(limit)
            ).all()
            return [_view(job, []) for job in jobs]

    def latest_failure(self, app_id: str, stage: str | None = None) -> JobView | None:
        self.reap_stale()
        with self.db.readonly_session() as session:
            query = select(Job.id).where(Job.app_id == app_id, Job.state == JobState.FAILED.value)
            if stage is not None:
                query = query.where(Job.stage == stage)
            job_id = session.scalar(query.order_by(Job.finished_at.desc()).limit(1))
        return self.get(job_id) if job_id else None

    def fail_unsent(self, job_id: str, error: str) -> None:
        """The broker refused the message: the job will never run."""
        self._finish(job_id, JobState.FAILED, error=error, traceback=None)

    # --- workers -------------------------------------------------------------------------

    def claim(self, job_id: str, worker: str) -> Job | None:
        """Mark a queued job running; None when it is not queued any more (redelivery)."""
        now = _now()
        with self.db.session() as session:
            claimed = session.execute(
                update(Job)
                .where(Job.id == job_id, Job.state == JobState.QUEUED.value)
                .values(state=JobState.RUNNING.value, started_at=now, heartbeat_at=now, worker=worker)
            )
            if not getattr(claimed, "rowcount", 0):
                return None
            return session.get(Job, job_id)

    def heartbeat(self, job_id: str) -> None:
        with self.db.session() as session:
            session.execute(
                update(Job).where(Job.id == job_id, Job.state == JobState.RUNNING.value).values(heartbeat_at=_now())
            )

    def set_progress(self, job_id: str, percent: float) -> None:
        value = max(0, min(100, int(percent)))
        with self.db.session() as session:
            session.execute(
                update(Job)
                .where(Job.id == job_id, Job.state == JobState.RUNNING.value)
                .values(progress=value, heartbeat_at=_now())
            )

    def log(self, job_id: str, message: str, level: str = "info") -> None:
        """Add a log line as given: running jobs write through their JobContext, which redacts."""
        with self.db.session() as session:
            session.add(JobLogLine(job_id=job_id, level=level, message=message[:4000]))

    def succeed(self, job_id: str) -> None:
        self._finish(job_id, JobState.SUCCEEDED, error=None, traceback=None)

    def fail(self, job_id: str, error: str, traceback: str | None = None) -> None:
        self._finish(job_id, JobState.FAILED, error=error, traceback=traceback)

    def _finish(self, job_id: str, state: JobState, *, error: str | None, traceback: str | None) -> None:
        values: dict[str, Any] = {"state": state.value, "finished_at": _now(), "error": error, "traceback": traceback}
        if state is JobState.SUCCEEDED:
            values["progress"] = 100
        with self.db.session() as session:
            session.execute(
                update(Job)
                .where(Job.id == job_id, Job.state.in_([JobState.QUEUED.value, JobState.RUNNING.value]))
                .values(**values)
            )

    def reap_stale(self) -> int:
        """Fail running jobs whose worker stopped sending heartbeats; returns how many."""
        cutoff = _now() - timedelta(seconds=self.heartbeat_timeout)
        with self.db.session() as session:
            reaped = session.execute(
                update(Job)
                .where(Job.state == JobState.RUNNING.value, Job.heartbeat_at < cutoff)
                .values(
                    state=JobState.FAILED.value,
                    finished_at=_now(),
                    error="The worker running this job stopped (no heartbeat for "
                    f"{self.heartbeat_timeout:g} s). The previous data is still served; run it again.",
                )
            )
            return int(getattr(reaped, "rowcount", 0) or 0)


def _view(job: Job, log: list[dict[str, Any]]) -> JobView:
    return JobView(
        id=job.id,
        app_id=job.app_id,
        stage=job.stage,
        kind=job.kind,
        state=job.state,
        progress=job.progress,
        created_by=job.created_by,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        error=job.error,
        traceback=job.traceback,
        log=log,
    )
