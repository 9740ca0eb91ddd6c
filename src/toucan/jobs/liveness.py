"""Signs of life of the job system: each worker and scheduler process beats in the database.

Every replica reads the same rows, so `/ready` of a web process knows whether some worker
somewhere is consuming and when the scheduler last ran, whether they live beside it
(embedded) or on other machines (production).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update

from toucan.db.engine import Database
from toucan.db.etl_models import JobSystemBeat

log = logging.getLogger(__name__)

WORKER = "worker"
SCHEDULER = "scheduler"
# Rows of processes gone for this long are removed (a crashed process cannot remove its own).
FORGET_AFTER = timedelta(days=1)


def process_name(kind: str) -> str:
    """The row name of this process: `<kind>:<host>:<pid>`."""
    return f"{kind}:{socket.gethostname()}:{os.getpid()}"


def beat(db: Database, kind: str, name: str) -> None:
    """Record that the process `name` is alive now."""
    now = datetime.now(UTC)
    with db.session() as session:
        found = session.execute(update(JobSystemBeat).where(JobSystemBeat.name == name).values(beat_at=now))
        if not found.rowcount:  # type: ignore[attr-defined]
            session.add(JobSystemBeat(name=name, kind=kind, started_at=now, beat_at=now))
            session.execute(delete(JobSystemBeat).where(JobSystemBeat.beat_at < now - FORGET_AFTER))


def forget(db: Database, name: str) -> None:
    """Remove the row of a process that stops cleanly, so it does not count as alive."""
    with db.session() as session:
        session.execute(delete(JobSystemBeat).where(JobSystemBeat.name == name))


def status(db: Database, stale_after: float) -> dict[str, Any]:
    """The job system as /ready reports it: live workers, the scheduler's last beat, what is down."""
    now = datetime.now(UTC)
    cutoff = now - timedelta(seconds=stale_after)
    with db.readonly_session() as session:
        rows = session.execute(select(JobSystemBeat.kind, JobSystemBeat.beat_at)).all()
    workers = sum(1 for kind, at in rows if kind == WORKER and at >= cutoff)
    scheduler_beats = [at for kind, at in rows if kind == SCHEDULER]
    last_scheduler = max(scheduler_beats) if scheduler_beats else None
    down = []
    if not workers:
        down.append(
            f"no job worker gave a sign of life in the last {stale_after:g} s (TOUCAN_JOB_SYSTEM_STALE_AFTER): "
            "start one with `toucan-ctl worker`"
        )
    if last_scheduler is None or last_scheduler < cutoff:
        down.append(
            f"the scheduler gave no sign of life in the last {stale_after:g} s: run exactly one `toucan-ctl scheduler`"
        )
    report: dict[str, Any] = {
        "ok": not down,
        "workers": workers,
        "scheduler_beat_at": last_scheduler.isoformat() if last_scheduler else None,
    }
    if down:
        report["error"] = "; ".join(down)
    return report


class Beater:
    """A daemon thread that beats every `interval` seconds while `alive()` says so."""

    def __init__(self, db: Database, kind: str, interval: float, alive: Any = None) -> None:
        self.db, self.kind, self.interval = db, kind, interval
        self.name = process_name(kind)
        self._alive = alive or (lambda: True)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"toucan-{kind}-beat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        try:
            forget(self.db, self.name)
        except Exception as exc:  # the database may be the reason for stopping
            log.warning("could not remove the %s beat row: %s", self.kind, type(exc).__name__)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self._alive():
                    beat(self.db, self.kind, self.name)
            except Exception as exc:  # a database hiccup must not end the beats for good
                log.warning("%s beat not recorded: %s", self.kind, type(exc).__name__)
            self._stop.wait(self.interval)


def worker_beats(settings: Any) -> None:
    """Make this Celery worker process beat while its consumer runs (call before it starts)."""
    from celery import bootsteps
    from celery.signals import worker_ready, worker_shutdown

    db = Database.from_settings(settings)
    # Pool processes forked later inherit the engine: they must not use or close its sockets.
    os.register_at_fork(after_in_child=lambda: db.engine.dispose(close=False))
    beater: list[Beater] = []

    @worker_ready.connect(weak=False)
    def _started(sender: Any = None, **_: Any) -> None:
        consumer = sender

        def consuming() -> bool:
            connection = getattr(consumer, "connection", None)
            return bool(consumer.blueprint.state == bootsteps.RUN and connection is not None and connection.connected)

        beater.append(Beater(db, WORKER, settings.job_system_stale_after / 3, consuming))
        beater[0].start()

    @worker_shutdown.connect(weak=False)
    def _stopped(**_: Any) -> None:
        for one in beater:
            one.stop()
        db.dispose()
