"""The job worker process, as `toucan-ctl worker` and `scheduler` start it (the counterpart of
`app.py`): the Celery app with its tasks, and the table of job handlers it gives the runner.

The jobs package runs jobs without knowing what they do; this module, at the top of the
house with `app.py` and `cli.py`, is where the kinds of job meet their handlers.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from functools import cache
from typing import TYPE_CHECKING, Any

from toucan.db.engine import Database
from toucan.jobs import liveness, scratch
from toucan.jobs.celery_app import GC_TASK, REAP_TASK, RUN_JOB_TASK, make_celery
from toucan.jobs.context import Handler
from toucan.jobs.queue import JobQueue
from toucan.jobs.scheduler import BeatingScheduler
from toucan.jobs.store import JobKind, JobStore
from toucan.settings import Settings

if TYPE_CHECKING:
    from celery import Celery

log = logging.getLogger(__name__)


def handlers() -> dict[str, Handler]:
    """What runs each kind of job (imported when a job runs: the worker starts without them)."""
    from toucan.backup.jobs import run_backup_job, run_restore_job
    from toucan.etl.preprocess import run_preprocess_job
    from toucan.screenshots.exports import run_export_job
    from toucan.screenshots.reports import run_report_job

    return {
        JobKind.PREPROCESS.value: run_preprocess_job,
        JobKind.BACKUP.value: run_backup_job,
        JobKind.RESTORE.value: run_restore_job,
        JobKind.EXPORT.value: run_export_job,
        JobKind.REPORT.value: run_report_job,
    }


@cache
def _runtime() -> tuple[Settings, Database]:
    """Settings and database of this worker process (built on its first task)."""
    settings = Settings()
    return settings, Database.from_settings(settings)


def create_worker_app(settings: Settings) -> Celery:
    """The Celery app with every task registered, for `toucan-ctl worker` and `scheduler`."""
    app = make_celery(settings)
    # The scheduler also dispatches scheduled reports, from its own loop: never behind jobs.
    app.conf.beat_scheduler = "toucan.worker:ReportingScheduler"

    @app.task(name=RUN_JOB_TASK)
    def run_job_task(job_id: str) -> str | None:
        from toucan.jobs.runner import run_job

        settings, db = _runtime()
        return run_job(settings, db, job_id, f"{socket.gethostname()}:{os.getpid()}", handlers())

    @app.task(name=REAP_TASK)
    def reap_stale_jobs() -> int:
        settings, db = _runtime()
        reaped = JobStore(db, settings.job_heartbeat_timeout).reap_stale()
        scratch.sweep(settings.data_dir, settings.job_time_limit)
        return reaped

    @app.task(name=GC_TASK)
    def collect_garbage() -> int:
        from sqlalchemy import select

        from toucan.backup.jobs import remove_expired
        from toucan.data.domains import domain_store_for
        from toucan.data.live import collect_live_garbage
        from toucan.db.models import SmallApp
        from toucan.screenshots.exports import remove_expired as remove_expired_exports

        settings, db = _runtime()
        store = domain_store_for(settings, db)
        with db.readonly_session() as session:
            apps = list(session.scalars(select(SmallApp.id)))
        return (
            sum(store.collect_garbage(app_id) for app_id in apps)
            + collect_live_garbage(settings.data_dir)
            + remove_expired(settings, db)
            + remove_expired_exports(settings)
        )

    return app


class ReportingScheduler(BeatingScheduler):
    """The stack's scheduler: Celery beat's schedule, its signs of life, and every
    TOUCAN_REPORT_CHECK_SECONDS the scheduled reports (due runs, budgets, retries)."""

    _last_reports = float("-inf")
    _queue: JobQueue | None = None

    def tick(self, *args: Any, **kwargs: Any) -> float:
        wait = super().tick(*args, **kwargs)
        settings, db = _runtime()
        now = time.monotonic()
        if now - self._last_reports >= settings.report_check_seconds:
            self._last_reports = now
            try:
                from toucan.screenshots.reports import dispatch

                if self._queue is None:
                    self._queue = JobQueue(settings, db)
                dispatch(settings, db, self._queue)
            except Exception:  # a database hiccup must not stop the schedule
                log.exception("scheduled reports not dispatched")
        return min(wait, settings.report_check_seconds)


def prepare_worker(settings: Settings, db: Database) -> int:
    """Before a worker consumes: fail the jobs of stopped workers and remove their scratch
    folders; returns how many jobs were failed."""
    reaped = JobStore(db, settings.job_heartbeat_timeout).reap_stale()
    scratch.sweep(settings.data_dir, settings.job_time_limit)
    return reaped


def create_worker(settings: Settings) -> Celery:
    """The Celery app of a worker process: tasks registered, temporary files in its own
    scratch folder (each pool process in its own), signs of life while it consumes."""
    from celery.signals import worker_process_init

    scratch.use_process_scratch(settings.data_dir)

    @worker_process_init.connect(weak=False)
    def _pool_process(**_: Any) -> None:
        scratch.use_process_scratch(settings.data_dir)

    liveness.worker_beats(settings)
    return create_worker_app(settings)
