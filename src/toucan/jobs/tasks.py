"""The Celery tasks: thin wrappers that call the job runner and the domain modules."""

from __future__ import annotations

import logging
import os
import socket
from functools import cache
from typing import TYPE_CHECKING

from toucan.db.engine import Database
from toucan.jobs.celery_app import GC_TASK, REAP_TASK, RUN_JOB_TASK, make_celery
from toucan.jobs.store import JobStore
from toucan.settings import Settings

if TYPE_CHECKING:
    from celery import Celery

log = logging.getLogger(__name__)


@cache
def _runtime() -> tuple[Settings, Database]:
    """Settings and database of this worker process (built on its first task)."""
    settings = Settings()
    return settings, Database.from_settings(settings)


def create_worker_app(settings: Settings) -> Celery:
    """The Celery app with every task registered, for `toucan-ctl worker` and `scheduler`."""
    app = make_celery(settings)

    @app.task(name=RUN_JOB_TASK)
    def run_job_task(job_id: str) -> str | None:
        from toucan.jobs.runner import run_job

        settings, db = _runtime()
        return run_job(settings, db, job_id, worker=f"{socket.gethostname()}:{os.getpid()}")

    @app.task(name=REAP_TASK)
    def reap_stale_jobs() -> int:
        from toucan.jobs.scratch import sweep

        settings, db = _runtime()
        reaped = JobStore(db, settings.job_heartbeat_timeout).reap_stale()
        sweep(settings.data_dir, settings.job_time_limit)
        return reaped

    @app.task(name=GC_TASK)
    def collect_garbage() -> int:
        from sqlalchemy import select

        from toucan.data.domains import domain_store_for
        from toucan.db.models import SmallApp

        settings, db = _runtime()
        store = domain_store_for(settings, db)
        with db.readonly_session() as session:
            apps = list(session.scalars(select(SmallApp.id)))
        from toucan.data.live import collect_live_garbage

        return sum(store.collect_garbage(app_id) for app_id in apps) + collect_live_garbage(settings.data_dir)

    return app
