"""Submitting jobs from a request: record it, then hand it to the broker (never run it here)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from toucan.db.engine import Database
from toucan.errors import ServiceUnavailable
from toucan.jobs.celery_app import RUN_JOB_TASK, make_celery
from toucan.jobs.store import JobKind, JobStore
from toucan.settings import Settings

if TYPE_CHECKING:
    from celery import Celery

log = logging.getLogger(__name__)


class JobQueue:
    """The web side of jobs: creates job records and sends their messages."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.store = JobStore(db, settings.job_heartbeat_timeout)
        self._celery: Celery | None = None
        self._lock = threading.Lock()

    @property
    def celery(self) -> Celery:
        # Celery and kombu load on the first job, not at start-up.
        with self._lock:
            if self._celery is None:
                self._celery = make_celery(self.settings)
            return self._celery

    def submit(
        self,
        kind: JobKind,
        *,
        app_id: str | None,
        stage: str | None,
        author: str | None,
        prepare: Callable[[str], None] | None = None,
    ) -> str:
        """Create a queued job and send it to the workers; returns its id. `prepare(job_id)`
        runs in between (e.g. puts the job's input where its handler finds it): when it
        raises, the job is failed and never sent."""
        job_id = self.store.create(kind, app_id=app_id, stage=stage, author=author)
        if prepare is not None:
            try:
                prepare(job_id)
            except BaseException:
                self.store.fail_unsent(job_id, "The job's input could not be prepared; the job was not queued.")
                raise
        try:
            self.celery.send_task(RUN_JOB_TASK, args=[job_id])
        except Exception as exc:
            log.error("could not send job %s to the broker: %s", job_id, type(exc).__name__)
            self.store.fail_unsent(job_id, "The job broker is unreachable; the job was not queued.")
            raise ServiceUnavailable(
                "The job broker is unreachable, so the job could not be queued. Check TOUCAN_REDIS_URL "
                "and that Redis is running.",
                details={"job": job_id},
            ) from None
        return job_id
