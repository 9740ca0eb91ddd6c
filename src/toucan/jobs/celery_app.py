"""The one Celery app of the stack, configured from the settings.

Production: Redis broker (TOUCAN_REDIS_URL, one server or a master found through Sentinel).
Embedded: kombu's `filesystem://` transport under
the data dir, so jobs need no service and survive a restart of the worker. Both use the
transports of `toucan.jobs.broker`, which set aside a message that does not decode instead of
stopping the worker. Results are not
kept by Celery: the `jobs` table is the record of state, progress, log and error.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from toucan.redis_target import celery_broker
from toucan.settings import Settings

if TYPE_CHECKING:
    from celery import Celery

RUN_JOB_TASK = "toucan.run_job"
REAP_TASK = "toucan.reap_stale_jobs"
GC_TASK = "toucan.collect_garbage"
QUEUE = "toucan"


def broker_folder(settings: Settings) -> Path:
    return settings.data_dir / "broker"


def celery_config(settings: Settings) -> dict[str, Any]:
    """Celery settings; the broker is the only thing that differs between the two modes."""
    config: dict[str, Any] = {
        "task_default_queue": QUEUE,
        "task_ignore_result": True,
        "result_backend": None,
        # A message is acknowledged when its task ends, so a job whose worker died before
        # claiming it is delivered again; the claim makes a second delivery a no-op.
        "task_acks_late": True,
        "task_reject_on_worker_lost": False,
        "worker_prefetch_multiplier": 1,
        "worker_hijack_root_logger": False,
        "worker_redirect_stdouts": False,
        "worker_enable_remote_control": False,
        "worker_send_task_events": False,
        "broker_connection_retry_on_startup": True,
        "task_time_limit": settings.job_time_limit,
        "task_soft_time_limit": max(1, settings.job_time_limit - 5),
        "beat_schedule": {
            "reap-stale-jobs": {"task": REAP_TASK, "schedule": max(1.0, settings.job_heartbeat_timeout / 3)},
            "collect-garbage": {"task": GC_TASK, "schedule": 3600.0},
        },
        "beat_schedule_filename": str(settings.data_dir / "celerybeat-schedule"),
        # Records the scheduler's signs of life for /ready from its own loop, which turns
        # at least that often.
        "beat_scheduler": "toucan.jobs.scheduler:BeatingScheduler",
        "beat_max_loop_interval": settings.job_system_stale_after / 3,
    }
    if settings.redis_url:
        broker_url, options = celery_broker(settings.redis_url, settings.redis_sentinel_password)
        config["broker_url"] = broker_url
        scheme = broker_url.split("://", 1)[0]
        if scheme in ("redis", "rediss"):
            config["broker_transport"] = "toucan.jobs.broker:RedisTransport"
        elif scheme == "sentinel":
            config["broker_transport"] = "toucan.jobs.broker:SentinelTransport"
        config["broker_transport_options"] = {**options, "visibility_timeout": settings.job_time_limit + 60}
    else:
        folder = broker_folder(settings)
        config["broker_url"] = "filesystem://"
        config["broker_transport"] = "toucan.jobs.broker:FilesystemTransport"
        config["broker_transport_options"] = {
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "processed_folder": str(folder / "processed"),
            "control_folder": str(folder / "control"),
            "store_processed": False,
            "polling_interval": 0.05,
        }
        # This transport runs Celery's blocking loop, which sends a late ack only between two
        # 2-second polls: with a prefetch of 1 the next job waited up to 2 s for it. The one
        # embedded worker may hold the next message while it acks the last.
        config["worker_prefetch_multiplier"] = 2
    return config


def make_celery(settings: Settings) -> Celery:
    """A Celery app for `settings`; the tasks module registers the task functions on it."""
    from celery import Celery

    if not settings.redis_url:
        folder = broker_folder(settings)
        for name in ("queue", "processed", "control", "claimed", "dead-letter"):
            (folder / name).mkdir(parents=True, exist_ok=True)
    app = Celery("toucan", set_as_current=False)
    app.conf.update(celery_config(settings))
    return app
