"""What a job handler gets (`JobContext`): its job's identity, its app's secrets, and ways to
report progress. Everything a job says to its builder (log lines, its error and report) goes
out through it, which hides the app's secret values in it: the one way out of a job."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from toucan.apps.secrets import AppSecrets
from toucan.db.engine import Database
from toucan.jobs.store import JobStore
from toucan.redaction import Redactor
from toucan.settings import Settings


@dataclass
class JobContext:
    """What a job handler gets: its job's identity, its app's secrets, and ways to report progress."""

    store: JobStore
    settings: Settings
    db: Database
    job_id: str
    app_id: str | None
    stage: str | None
    author: str | None
    _last_progress: int = field(default=-1, repr=False)
    secrets: dict[str, str] = field(default_factory=dict, repr=False)
    redact: Redactor = field(default_factory=Redactor, repr=False)

    def load_secrets(self) -> None:
        """Decrypt the app's secrets, for the handler to render and for every message to hide."""
        if self.app_id is not None:
            self.secrets = AppSecrets(self.db, self.settings.resolved_secret_key()).values(self.app_id)
            self.redact = Redactor(self.secrets.values())

    def log(self, message: str, level: str = "info") -> None:
        """Add a line to the job's log (secret values hidden)."""
        self.store.log(self.job_id, self.redact(message), level)

    def fail(self, message: str, report: str | None = None) -> None:
        """End the job failed, its error logged; both redacted like every log line."""
        message = self.redact(message)
        self.store.log(self.job_id, message, "error")
        self.store.fail(self.job_id, message, self.redact(report) if report else report)

    def progress(self, percent: float) -> None:
        """Record the job's progress (stored only when the whole percent changes)."""
        value = int(percent)
        if value != self._last_progress:
            self._last_progress = value
            self.store.set_progress(self.job_id, value)


Handler = Callable[[JobContext], None]
