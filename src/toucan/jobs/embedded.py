"""The embedded stack's job system: `toucan-ctl serve` runs a job worker and the scheduler
beside the web server, restarts either when it stops, and stops both when it stops.

Each runs as a child process (`toucan-ctl worker --concurrency 1`, `toucan-ctl scheduler`)
that dies with the server, even when the server is killed. A child that exits is started
again after a pause that doubles with each quick failure (1 s up to a minute), so a child
that cannot start does not spin; one that ran a while starts again at once.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

from toucan.child_process import own_group_dying_with_parent
from toucan.settings import Settings

log = logging.getLogger("toucan.embedded")

FIRST_PAUSE = 1.0
LONGEST_PAUSE = 60.0
# A child that ran this long before exiting failed for a reason of its own, not at start.
STABLE_AFTER = 60.0


@dataclass
class Child:
    """One supervised command and its current process."""

    name: str
    argv: list[str]
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    pause: float = FIRST_PAUSE
    restarts: int = field(default=0)

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "toucan.cli", *self.argv],
            env=dict(os.environ),
            # Stopped as a group, and sent SIGTERM when `serve` dies, even by SIGKILL.
            preexec_fn=lambda: own_group_dying_with_parent(signal.SIGTERM),
        )
        self.started_at = time.monotonic()

    def stop(self) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        # Celery's warm shutdown: running jobs finish or are reaped by the next start.
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


class Supervisor:
    """Keeps the embedded worker and scheduler running until `stop()`."""

    def __init__(self, children: list[Child], poll_interval: float = 0.5) -> None:
        self.children = children
        self.poll_interval = poll_interval
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="toucan-supervisor", daemon=True)

    def start(self) -> None:
        for child in self.children:
            child.start()
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        for child in self.children:
            child.stop()

    def _watch(self) -> None:
        while not self._stopping.wait(self.poll_interval):
            for child in self.children:
                process = child.process
                if process is None or process.poll() is None:
                    continue
                self._restart(child, process.returncode)

    def _restart(self, child: Child, returncode: int) -> None:
        ran = time.monotonic() - child.started_at
        if ran >= STABLE_AFTER:
            child.pause = FIRST_PAUSE
        how = f"killed by signal {-returncode}" if returncode < 0 else f"exit code {returncode}"
        log.error("embedded %s stopped (%s) after %.0f s; restarting in %.0f s", child.name, how, ran, child.pause)
        if self._stopping.wait(child.pause):
            return
        child.pause = min(child.pause * 2, LONGEST_PAUSE)
        child.restarts += 1
        # Its pool processes may outlive it (they die with it only on a clean exit).
        if child.process is not None:
            with suppress(ProcessLookupError, PermissionError):
                os.killpg(child.process.pid, signal.SIGKILL)
        child.start()
        log.warning("embedded %s restarted (restart %d)", child.name, child.restarts)


@contextmanager
def embedded_job_system(settings: Settings) -> Iterator[Supervisor]:
    """Run and supervise a job worker and the scheduler for the duration of the block."""
    if not log.handlers and not logging.getLogger().handlers:  # else configure_logging set the root's
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        log.addHandler(handler)
        log.setLevel(settings.log_level.upper())
        log.propagate = False
    supervisor = Supervisor(
        [
            Child("worker", ["worker", "--concurrency", "1"]),
            Child("scheduler", ["scheduler"]),
        ]
    )
    supervisor.start()
    try:
        yield supervisor
    finally:
        supervisor.stop()
