"""Running one job in a worker: claim it, keep its heartbeat, call its handler, record the end.

Everything a job says to its builder (log lines, its error and report) goes out through its
`JobContext`, which hides the app's secret values in it: the one way out of a job.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Mapping

from toucan.db.engine import Database
from toucan.errors import ToucanError
from toucan.jobs.context import Handler, JobContext
from toucan.jobs.failure import JobFailed, details_text
from toucan.jobs.scratch import ensure_process_scratch
from toucan.jobs.store import JobStore
from toucan.settings import Settings

log = logging.getLogger(__name__)

__all__ = ["Handler", "JobContext", "JobFailed", "run_job"]


class _Heartbeat(threading.Thread):
    def __init__(self, store: JobStore, job_id: str, every: float) -> None:
        super().__init__(name=f"heartbeat-{job_id}", daemon=True)
        self.store, self.job_id, self.every = store, job_id, every
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.every):
            try:
                self.store.heartbeat(self.job_id)
            except Exception:  # a missed beat is retried; the reaper allows several
                log.warning("heartbeat of job %s failed", self.job_id)


def run_job(settings: Settings, db: Database, job_id: str, worker: str, handlers: Mapping[str, Handler]) -> str | None:
    """Run a queued job to its end with the handler of its kind (toucan.worker gives the
    table); returns its final state, None when it was not queued."""
    store = JobStore(db, settings.job_heartbeat_timeout)
    job = store.claim(job_id, worker)
    if job is None:
        log.info("job %s is not queued any more; skipped", job_id)
        return None
    ensure_process_scratch()
    handler = handlers.get(job.kind)
    ctx = JobContext(store, settings, db, job_id, job.app_id, job.stage, job.created_by)
    beat = _Heartbeat(store, job_id, max(0.2, settings.job_heartbeat_timeout / 4))
    beat.start()
    try:
        if handler is None:
            raise JobFailed(f"Unknown job kind {job.kind!r}.")
        ctx.load_secrets()
        handler(ctx)
    except JobFailed as exc:
        ctx.fail(exc.message, exc.report)
        return "failed"
    except ToucanError as exc:
        ctx.fail(exc.message, details_text(exc))
        return "failed"
    except BaseException as exc:
        # SoftTimeLimitExceeded, MemoryError, bugs: the builder sees a message, the log the traceback.
        name = type(exc).__name__
        if name == "SoftTimeLimitExceeded":
            message = f"The job ran longer than TOUCAN_JOB_TIME_LIMIT ({settings.job_time_limit} s) and was stopped."
        else:
            # The worker's log is no place for a secret either: the traceback is redacted too.
            log.error("job %s failed\n%s", job_id, ctx.redact(traceback.format_exc()))
            message = f"The job failed with an internal error ({name}); the worker log has the details."
        ctx.fail(message)
        if not isinstance(exc, Exception):
            raise
        return "failed"
    finally:
        beat.stopped.set()
    store.succeed(job_id)
    return "succeeded"
