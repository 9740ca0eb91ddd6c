"""The job system's metrics, read from the metadata database at each scrape (so every web
process answers the same): jobs by state and kind, the queue's depth, each worker's and the
scheduler's last beat."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from toucan.db.engine import Database
from toucan.db.etl_models import Job, JobSystemBeat
from toucan.jobs.liveness import SCHEDULER, WORKER
from toucan.jobs.store import JobState


class JobSystemCollector(Collector):
    """Jobs by state and kind, the queue's depth and each job process's last beat, read from the
    metadata database at each scrape."""

    def __init__(self, db: Database, stale_after: float) -> None:
        self.db = db
        self.stale_after = stale_after

    def collect(self) -> Iterator[Metric]:
        with self.db.readonly_session() as session:
            counts = session.execute(select(Job.state, Job.kind, func.count()).group_by(Job.state, Job.kind)).all()
            beats = session.execute(select(JobSystemBeat.kind, JobSystemBeat.name, JobSystemBeat.beat_at)).all()
        jobs = GaugeMetricFamily(
            "toucan_jobs", "Jobs in the metadata database, by state and kind.", labels=["state", "kind"]
        )
        by_state = {state.value: 0 for state in JobState}
        for state, kind, count in counts:
            jobs.add_metric([state, kind], count)
            by_state[state] = by_state.get(state, 0) + count
        yield jobs
        yield GaugeMetricFamily(
            "toucan_job_queue_depth", "Jobs queued, waiting for a worker.", value=by_state[JobState.QUEUED.value]
        )
        now = datetime.now(UTC)
        beat = GaugeMetricFamily(
            "toucan_job_system_beat_age_seconds",
            "Seconds since each worker and scheduler process last gave a sign of life.",
            labels=["kind", "process"],
        )
        alive = {WORKER: 0, SCHEDULER: 0}
        for kind, name, at in beats:
            age = (now - (at if at.tzinfo else at.replace(tzinfo=UTC))).total_seconds()
            beat.add_metric([kind, name], max(age, 0.0))
            if age <= self.stale_after:
                alive[kind] = alive.get(kind, 0) + 1
        yield beat
        live = GaugeMetricFamily(
            "toucan_job_system_alive",
            "Worker and scheduler processes that beat within TOUCAN_JOB_SYSTEM_STALE_AFTER.",
            labels=["kind"],
        )
        for kind, count in sorted(alive.items()):
            live.add_metric([kind], count)
        yield live


def job_system_exposition(db: Database, stale_after: float) -> bytes:
    """The job system's metrics in the text format."""
    registry = CollectorRegistry()
    registry.register(JobSystemCollector(db, stale_after))
    return generate_latest(registry)
