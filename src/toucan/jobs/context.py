"""What a job handler gets (`JobContext`): its job's identity, and ways to report progress."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from toucan.db.engine import Database
from toucan.jobs.store import JobStore
from toucan.settings import Settings


@dataclass
class JobContext:
    """What a job handler gets: its job's identity, and ways to report progress."""

    store: JobStore
    settings: Settings
    db: Database
    job_id: str
    app_id: str | None
    stage: str | None
    author: str | None
    _last_progress: int = field(default=-1, repr=False)

    def log(self, message: str, level: str = "info") -> None:
        """Add a line to the job's log."""
        self.store.log(self.job_id, message, level)

    def progress(self, percent: float) -> None:
        """Record the job's progress (stored only when the whole percent changes)."""
        value = int(percent)
        if value != self._last_progress:
            self._last_progress = value
            self.store.set_progress(self.job_id, value)


Handler = Callable[[JobContext], None]
