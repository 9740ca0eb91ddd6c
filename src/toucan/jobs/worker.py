"""The job worker process, as `toucan-ctl worker` starts it (the counterpart of `app.py`)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from toucan.db.engine import Database
from toucan.jobs import liveness, scratch
from toucan.jobs.store import JobStore
from toucan.settings import Settings

if TYPE_CHECKING:
    from celery import Celery

log = logging.getLogger(__name__)


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

    from toucan.jobs.tasks import create_worker_app

    scratch.use_process_scratch(settings.data_dir)

    @worker_process_init.connect(weak=False)
    def _pool_process(**_: Any) -> None:
        scratch.use_process_scratch(settings.data_dir)

    liveness.worker_beats(settings)
    return create_worker_app(settings)
