"""The scheduler (Celery beat) of the stack, which records its signs of life from its own loop."""

from __future__ import annotations

import logging
import time
from typing import Any

from celery.beat import PersistentScheduler

from toucan.db.engine import Database
from toucan.jobs.liveness import SCHEDULER, beat, process_name
from toucan.settings import Settings

log = logging.getLogger(__name__)


class BeatingScheduler(PersistentScheduler):
    """Celery beat's persistent scheduler; each loop turn beats at most every third of
    TOUCAN_JOB_SYSTEM_STALE_AFTER, so a beat proves the loop runs, not just the process."""

    _settings: Settings | None = None
    _db: Database | None = None
    _last = float("-inf")

    def tick(self, *args: Any, **kwargs: Any) -> float:
        wait: float = super().tick(*args, **kwargs)
        if self._settings is None:
            self._settings = Settings()
        every = self._settings.job_system_stale_after / 3
        now = time.monotonic()
        if now - self._last >= every:
            try:
                if self._db is None:
                    self._db = Database.from_settings(self._settings)
                beat(self._db, SCHEDULER, process_name(SCHEDULER))
                self._last = now
            except Exception as exc:  # a database hiccup must not stop the schedule
                log.warning("scheduler beat not recorded: %s", type(exc).__name__)
        return min(wait, every)
